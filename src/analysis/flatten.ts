import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header as Headers, type Pack } from 'tar-stream';

/**
 * Flattening: the layers of an image as ONE tar of its final filesystem (docker export, crane export).
 *
 * Pass 1 reads every layer's headers top-down (no file data is kept) and decides which entry of which
 * layer survives, the way overlayfs stacks them:
 *   - `.wh.NAME` hides NAME and everything below it in lower layers; `.wh..wh..opq` in D hides all of
 *     D's lower contents. Both apply only below their own layer, whatever their order in its tar, so a
 *     directory deleted and recreated in higher layers never shows its old files (ggcr#2029).
 *   - a path is hidden below a higher entry of the same path, below a higher non-directory at one of
 *     its parents, and (when it is not a directory) below a directory a higher layer implies.
 *   - whiteouts are matched by name, never through symlinks (stereoscope#694); a whiteout of
 *     something absent does nothing.
 * Hard links are then resolved: a link whose target survives stays a link; a link whose target was
 * replaced or deleted above becomes a regular file with the target's content as of the link's layer
 * (ggcr#2002), and further links to the same content link to that copy.
 * Pass 2 writes the surviving directories first, sorted (parents before children), then re-reads
 * the layers bottom-up and writes the other survivors in layer order, streaming contents; a
 * materialised link re-reads its target's layer. Memory: a path and a few numbers per entry, and
 * the headers of directories.
 *
 * Every name is cleaned; a name or hard-link target that climbs out of the root fails pass 1, before
 * a byte is written. Symlink targets are kept as they are (they resolve inside the container).
 */

/** A layer entry names a path outside the image root. */
export class UnsafePathError extends Error {}

export interface FlattenResult {
  /** Entries written. */
  entries: number;
  /** What was skipped and why (invalid whiteouts, dangling hard links, binary xattrs). */
  warnings: string[];
}

interface Info {
  index: number;
  type: Headers['type'];
  linkname?: string;
  /** A directory's header: directories are written first, from memory (they have no content). */
  header?: Headers;
}

interface Scan {
  /** Entries by cleaned path (the last of duplicates), whiteouts excluded. */
  entries: Map<string, Info>;
  whiteouts: Set<string>;
  opaques: Set<string>;
  /** Indexes (in tar order, whiteouts counted) of the entries that reach the output. */
  keep: Set<number>;
}

type Plan = { link: string } | { from: { layer: number; index: number } };

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const TYPES = new Set([
  'file',
  'contiguous-file',
  'link',
  'symlink',
  'directory',
  'character-device',
  'block-device',
  'fifo',
]);
/** PAX records the header itself carries; any other (xattrs) is passed through. */
const OWN_PAX = new Set([
  'path',
  'linkpath',
  'size',
  'mtime',
  'atime',
  'ctime',
  'uid',
  'gid',
  'uname',
  'gname',
  'charset',
  'comment',
]);

/** A tar name as a root-relative path (`.` for the root); throws if it climbs out of the root. */
export function cleanPath(name: string, where: string): string {
  const p = posix.normalize(name.replace(/^\/+/, '')).replace(/\/+$/, '') || '.';
  if (p === '..' || p.startsWith('../'))
    throw new UnsafePathError(
      `${where}: "${name.slice(0, 200)}" escapes the image root; refusing to flatten a malformed or malicious layer`,
    );
  return p;
}

/** `.` and every parent directory of a path, outermost first (none for the root). */
function ancestors(p: string): string[] {
  if (p === '.') return [];
  const out = ['.'];
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
}

type Entry = Readable & { header: Headers };

/**
 * The entries of a tar, each drained after the consumer is done with it; the source is destroyed when the consumer
 * stops early.
 */
export async function* readTar(open: () => Promise<Readable>): AsyncGenerator<Entry> {
  const src = await open();
  const ex = extract();
  src.on('error', (e) => ex.destroy(e));
  src.pipe(ex as unknown as Writable);
  try {
    for await (const entry of ex) {
      yield entry as unknown as Entry;
      entry.resume();
    }
  } finally {
    src.destroy();
  }
}

async function scanLayer(open: () => Promise<Readable>, layer: number, warn: (m: string) => void): Promise<Scan> {
  const s: Scan = { entries: new Map(), whiteouts: new Set(), opaques: new Set(), keep: new Set() };
  let index = -1;
  for await (const e of readTar(open)) {
    index++;
    const h = e.header;
    const where = `layer ${layer}`;
    const name = cleanPath(h.name, where);
    const base = posix.basename(name);
    if (base.startsWith(WHITEOUT)) {
      const target = base.slice(WHITEOUT.length);
      if (base === OPAQUE) s.opaques.add(posix.dirname(name));
      else if (target.startsWith(WHITEOUT))
        continue; // aufs bookkeeping (.wh..wh.plnk and the like)
      else if (target === '' || target === '.' || target === '..')
        warn(`${where}: invalid whiteout "${h.name}" ignored`);
      else s.whiteouts.add(posix.join(posix.dirname(name), target));
      continue;
    }
    if (!TYPES.has(h.type)) {
      warn(`${where}: "${h.name}" has an unsupported entry type (${String(h.type)}); left out`);
      continue;
    }
    const link = h.type === 'link' ? { linkname: cleanPath(h.linkname ?? '', `${where}, hard link "${h.name}"`) } : {};
    s.entries.set(name, { index, type: h.type, ...link, ...(h.type === 'directory' ? { header: { ...h } } : {}) });
  }
  return s;
}

/** Pass 1: which entry of each layer survives. */
async function scanAll(layers: (() => Promise<Readable>)[], warn: (m: string) => void): Promise<Scan[]> {
  const present = new Set<string>();
  const blockers = new Set<string>();
  const implied = new Set<string>();
  const deleted = new Set<string>();
  const opaque = new Set<string>();
  const hidden = (p: string, isDir: boolean) =>
    present.has(p) ||
    deleted.has(p) ||
    (!isDir && implied.has(p)) ||
    ancestors(p).some((a) => deleted.has(a) || opaque.has(a) || blockers.has(a));
  const scans: Scan[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    const s = await scanLayer(layers[i]!, i, warn);
    scans[i] = s;
    for (const [p, e] of s.entries) if (!hidden(p, e.type === 'directory')) s.keep.add(e.index);
    // This layer's entries and whiteouts now shadow the layers below it.
    for (const [p, e] of s.entries) {
      present.add(p);
      if (e.type !== 'directory') blockers.add(p);
      for (const a of ancestors(p)) implied.add(a);
    }
    for (const w of s.whiteouts) {
      deleted.add(w);
      for (const a of ancestors(w)) implied.add(a);
    }
    for (const o of s.opaques) {
      opaque.add(o);
      for (const a of [...ancestors(o), o]) implied.add(a);
    }
  }
  return scans;
}

/** What a hard link in layer `layer` (at tar position `before`) to `name` refers to, as that layer saw it. */
function findTarget(
  scans: Scan[],
  layer: number,
  name: string,
  before: number,
): { layer: number; name: string; info: Info } | undefined {
  const own = scans[layer]!.entries.get(name);
  if (own && own.index < before) return { layer, name, info: own };
  for (let j = layer - 1; j >= 0; j--) {
    const above = scans[j + 1]!;
    if (above.whiteouts.has(name)) return undefined;
    for (const a of ancestors(name)) {
      const e = above.entries.get(a);
      if (above.whiteouts.has(a) || above.opaques.has(a) || (e && e.type !== 'directory')) return undefined;
    }
    const e = scans[j]!.entries.get(name);
    if (e) return { layer: j, name, info: e };
  }
  return undefined;
}

/** How each surviving hard link is written: as it is, relinked, or as a copy of its target. */
function planLinks(scans: Scan[], warn: (m: string) => void): Map<number, Plan>[] {
  const plans = scans.map(() => new Map<number, Plan>());
  const copies = new Map<string, string>();
  scans.forEach((s, i) => {
    const links = [...s.entries]
      .filter(([, e]) => e.type === 'link' && s.keep.has(e.index))
      .sort((a, b) => a[1].index - b[1].index);
    for (const [p, e] of links) {
      let at = { layer: i, name: e.linkname!, before: e.index };
      let plan: Plan | undefined;
      for (let hop = 0; hop < 32 && !plan; hop++) {
        const t = findTarget(scans, at.layer, at.name, at.before);
        if (!t || t.info.type === 'directory') break;
        if (scans[t.layer]!.keep.has(t.info.index)) plan = { link: t.name };
        else if (t.info.type === 'link') at = { layer: t.layer, name: t.info.linkname!, before: t.info.index };
        else {
          const key = `${t.layer}:${t.info.index}`;
          const copy = copies.get(key);
          plan = copy ? { link: copy } : { from: { layer: t.layer, index: t.info.index } };
          if (!copy) copies.set(key, p);
        }
      }
      if (!plan) {
        warn(`layer ${i}: hard link "${p}" → "${e.linkname}" has no target; left out`);
        s.keep.delete(e.index);
      } else if (!('link' in plan && plan.link === e.linkname)) plans[i]!.set(e.index, plan);
    }
  });
  return plans;
}

function outHeader(h: Headers, name: string, warn: (m: string) => void, link?: string): Headers {
  const type = link ? 'link' : h.type === 'contiguous-file' ? 'file' : h.type;
  const pax: Record<string, string> = {};
  for (const [k, v] of Object.entries((h.pax ?? {}) as Record<string, string>)) {
    if (OWN_PAX.has(k)) continue;
    // tar-stream decodes PAX values as UTF-8: a binary xattr (security.capability) would be mangled.
    if (v.includes('\uFFFD')) warn(`"${name}": PAX record ${k} is binary and was left out`);
    else pax[k] = v;
  }
  return {
    name: type === 'directory' ? (name === '.' ? './' : `${name}/`) : name,
    type,
    // tar-stream replaces a mode of 0 by 0644; 0o100000 is truthy and still encodes as 0000.
    mode: h.mode || 0o100000,
    uid: h.uid,
    gid: h.gid,
    uname: h.uname,
    gname: h.gname,
    mtime: h.mtime,
    size: type === 'file' ? h.size : 0,
    linkname: link ?? (type === 'link' ? cleanPath(h.linkname ?? '', name) : type === 'symlink' ? h.linkname : ''),
    devmajor: h.devmajor,
    devminor: h.devminor,
    ...(Object.keys(pax).length ? { pax } : {}),
  } as Headers;
}

/** Adds one entry to the output, streaming its data. */
function writeEntry(p: Pack, header: Headers, data?: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sink = p.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as Writable;
    if (header.type !== 'file' || !data) return;
    (async () => {
      for await (const chunk of data) if (!sink.write(chunk as Buffer)) await new Promise((r) => sink.once('drain', r));
      sink.end();
    })().catch((e: Error) => {
      sink.destroy(e);
      reject(e);
    });
  });
}

/**
 * Writes ONE tar of the image's final filesystem to `out` from its layers (uncompressed tar streams,
 * bottom first, each re-openable). Pass 1 fails with UnsafePathError before anything is written.
 */
export async function flatten(
  layers: (() => Promise<Readable>)[],
  out: Writable,
  onWarning?: (m: string) => void,
): Promise<FlattenResult> {
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    onWarning?.(m);
  };
  const scans = await scanAll(layers, warn);
  const plans = planLinks(scans, warn);
  const p = pack();
  const done = pipeline(p as unknown as AsyncIterable<Buffer>, out);
  let entries = 0;
  try {
    const dirs = scans.flatMap((s) =>
      [...s.entries]
        .filter(([, e]) => e.header && s.keep.has(e.index))
        .map(([path, e]) => ({ path, header: e.header! })),
    );
    dirs.sort((a, b) => (a.path === '.' ? -1 : b.path === '.' ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const d of dirs) {
      await writeEntry(p, outHeader(d.header, d.path, warn));
      entries++;
    }
    for (let i = 0; i < layers.length; i++) {
      const s = scans[i]!;
      if (!s.keep.size) continue;
      let index = -1;
      for await (const e of readTar(layers[i]!)) {
        index++;
        if (!s.keep.has(index) || e.header.type === 'directory') continue;
        const name = cleanPath(e.header.name, `layer ${i}`);
        const plan = plans[i]!.get(index);
        if (plan && 'from' in plan) await copyEntry(p, layers[plan.from.layer]!, plan.from.index, name, warn);
        else await writeEntry(p, outHeader(e.header, name, warn, plan?.link), e);
        entries++;
      }
    }
    p.finalize();
    await done;
  } catch (e) {
    p.destroy(e as Error);
    await done.catch(() => {});
    throw e;
  }
  return { entries, warnings };
}

/** A hard link whose target is gone above: the target's entry, re-read from its layer, under the link's name. */
async function copyEntry(
  p: Pack,
  layer: () => Promise<Readable>,
  index: number,
  name: string,
  warn: (m: string) => void,
): Promise<void> {
  let n = -1;
  for await (const e of readTar(layer)) {
    if (++n !== index) continue;
    return writeEntry(p, outHeader(e.header, name, warn), e);
  }
  throw new Error(`a layer changed between two reads (entry ${index} of a hard link's target is gone)`);
}
