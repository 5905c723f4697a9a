import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { measuring } from '../oci/verify.js';
import { cleanPath } from './flatten.js';

/**
 * The per-layer file index every analysis command shares (layers, ls, cat, cp, diff, lint): one
 * streaming pass over a layer's uncompressed tar, nothing written to disk, file data read only to
 * hash it (when asked) or to hand it to an inspector (lint's secret scanner) in the same pass.
 */

export type FileType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface IndexEntry {
  /** Root-relative, cleaned (`etc/passwd`; `.` is the root). */
  path: string;
  type: FileType;
  /** Permission bits including setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content (0 for everything but regular files). */
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** A symlink's target as written; a hard link's target path, cleaned. */
  link?: string;
  /** sha256 of the content (`sha256:…`), regular files only, when digests were asked for. */
  digest?: string;
}

export interface LayerIndex {
  /** sha256 of the uncompressed tar, computed while reading (the layer's real diff_id). */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  /** Σ size of the regular files: dive's "layer size". */
  size: number;
  /** Entries in tar order, the last of duplicate names kept; whiteouts are listed apart. */
  entries: IndexEntry[];
  /** Paths a `.wh.NAME` removes from the layers below. */
  whiteouts: string[];
  /** Directories whose lower contents a `.wh..wh..opq` hides. */
  opaques: string[];
  /** Whether `digest` is set on every regular file. */
  digests: boolean;
  warnings: string[];
}

/** Sees a file's bytes as they stream past; return false to skip its content. */
export interface ContentInspector {
  wants(e: IndexEntry): boolean;
  /** Called once per wanted file with its whole content (wanted files must be small). */
  inspect(e: IndexEntry, data: Buffer): void;
}

export interface IndexOptions {
  digests?: boolean;
  inspector?: ContentInspector;
}

const TYPE_OF: Record<string, FileType> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * Indexes one uncompressed layer tar stream (consumed whole). Throws UnsafePathError for a name that escapes the root.
 */
export async function indexLayer(src: Readable, opts: IndexOptions = {}): Promise<LayerIndex> {
  const { t: tap, result: measured } = measuring();
  const ex = extract();
  src.on('error', (e) => tap.destroy(e));
  tap.on('error', (e) => ex.destroy(e));
  src.pipe(tap).pipe(ex as unknown as Writable);
  const byPath = new Map<string, IndexEntry>();
  const whiteouts = new Set<string>();
  const opaques = new Set<string>();
  const warnings: string[] = [];
  let size = 0;
  try {
    for await (const raw of ex) {
      const entry = raw as unknown as Readable & { header: Header };
      const h = entry.header;
      const name = cleanPath(h.name, 'layer');
      const base = posix.basename(name);
      if (base.startsWith(WHITEOUT)) {
        const target = base.slice(WHITEOUT.length);
        if (base === OPAQUE) opaques.add(posix.dirname(name));
        else if (target.startsWith(WHITEOUT)) {
          // aufs bookkeeping (.wh..wh.plnk and the like)
        } else if (target === '' || target === '.' || target === '..')
          warnings.push(`invalid whiteout "${h.name}" ignored`);
        else whiteouts.add(posix.join(posix.dirname(name), target));
        entry.resume();
        continue;
      }
      const type = TYPE_OF[h.type ?? ''];
      if (!type) {
        warnings.push(`"${h.name}" has an unsupported entry type (${String(h.type)}); left out`);
        entry.resume();
        continue;
      }
      const e: IndexEntry = {
        path: name,
        type,
        mode: (h.mode ?? 0) & 0o7777,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        size: type === 'file' ? (h.size ?? 0) : 0,
        mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
      };
      if (type === 'symlink') e.link = h.linkname ?? '';
      if (type === 'hardlink') e.link = cleanPath(h.linkname ?? '', `hard link "${h.name}"`);
      if (type === 'file') {
        size += e.size;
        const want = opts.inspector?.wants(e) ?? false;
        if (opts.digests || want) {
          const fh = opts.digests ? createHash('sha256') : undefined;
          const chunks: Buffer[] = [];
          for await (const c of entry as AsyncIterable<Buffer>) {
            fh?.update(c);
            if (want) chunks.push(c);
          }
          if (fh) e.digest = `sha256:${fh.digest('hex')}`;
          if (want) opts.inspector!.inspect(e, Buffer.concat(chunks));
        } else entry.resume();
      } else entry.resume();
      byPath.delete(name);
      byPath.set(name, e);
    }
  } finally {
    src.destroy();
  }
  const { digest: diffId, size: tarSize } = measured();
  return {
    diffId,
    tarSize,
    size,
    entries: [...byPath.values()],
    whiteouts: [...whiteouts],
    opaques: [...opaques],
    digests: !!opts.digests,
    warnings,
  };
}

/** `.` and every parent directory of a path, outermost first (none for the root). */
export function ancestors(p: string): string[] {
  if (p === '.') return [];
  const out = ['.'];
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
}

/** Whether `p` is `dir` or below it. */
export function isUnder(p: string, dir: string): boolean {
  return dir === '.' || p === dir || p.startsWith(dir + '/');
}
