import type { Readable } from 'node:stream';
import { extract, type Header as Headers } from 'tar-stream';

/** A file a cataloger reads: its path in the image (no leading slash), the layer that wrote it, its bytes. */
export interface LayerFile {
  path: string;
  /** Index of the layer (bottom first) whose version of the file is the one seen. */
  layer: number;
  data: Buffer;
}

/** One layer's version of a database file (dpkg status, apk installed): `data` undefined when the layer deleted it. */
export interface FileVersion {
  layer: number;
  data?: Buffer;
}

/** What the catalogers asked for, seen through every layer with whiteouts applied. */
export interface ImageFiles {
  /** The files as the running container would see them. */
  files: Map<string, LayerFile>;
  /** For database files: every layer's version, bottom first (to find the layer that added a package). */
  history: Map<string, FileVersion[]>;
  /** What probes kept of the files they ran over (Go binaries: the buildinfo block; Java archives: their packages). */
  probed: Map<string, LayerFile>;
  warnings: string[];
}

/**
 * What the reader keeps: `want` paths whole (up to `maxBytes`), `history` paths per layer, `probe` runs over other
 * regular files.
 */
export interface ReadSpec {
  want(path: string): boolean;
  history?(path: string): boolean;
  /** A scanner over a file's bytes: returns what to keep (or undefined) when the file ends. */
  probe?(path: string, mode: number, size: number): Probe | undefined;
  maxBytes?: number;
}

export interface Probe {
  push(chunk: Buffer): void;
  end(): Buffer | undefined;
}

/** A tar entry name as an image path: no `./` or leading `/`, no `..`; undefined for names that escape. */
export function cleanPath(name: string): string | undefined {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return undefined;
    out.push(part);
  }
  return out.join('/');
}

const MAX_DEFAULT = 64 << 20;

function under(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(dir + '/');
}

/**
 * Reads each layer once, as a stream, keeping only the files `spec` wants, and applies whiteouts
 * (`.wh.NAME` deletes NAME from lower layers, `.wh..wh..opq` empties a directory of lower layers' files).
 */
export async function readImageFiles(layers: (() => Promise<Readable>)[], spec: ReadSpec): Promise<ImageFiles> {
  const files = new Map<string, LayerFile>();
  const probed = new Map<string, LayerFile>();
  const history = new Map<string, FileVersion[]>();
  const warnings: string[] = [];
  const max = spec.maxBytes ?? MAX_DEFAULT;
  for (let i = 0; i < layers.length; i++) {
    const added = new Map<string, LayerFile>();
    const addedProbes = new Map<string, LayerFile>();
    const deleted: string[] = [];
    const opaque: string[] = [];
    const links: [string, string][] = [];
    const stream = await layers[i]!();
    const ex = extract();
    const done = new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
      stream.on('error', reject);
    });
    ex.on('entry', (h: Headers, body, next) => {
      const path = cleanPath(h.name);
      const drain = () => {
        body.on('end', () => next());
        body.resume();
      };
      if (path === undefined || path === '') return drain();
      const slash = path.lastIndexOf('/');
      const base = path.slice(slash + 1);
      const dir = slash < 0 ? '' : path.slice(0, slash);
      if (base === '.wh..wh..opq') {
        opaque.push(dir);
        return drain();
      }
      if (base.startsWith('.wh.')) {
        deleted.push(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
        return drain();
      }
      if (h.type === 'link' && h.linkname && spec.want(path)) {
        const target = cleanPath(h.linkname);
        if (target) links.push([path, target]);
        return drain();
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        // A directory, symlink or device replaces a file of lower layers at the same path.
        if (files.has(path)) deleted.push(path);
        return drain();
      }
      const size = h.size ?? 0;
      const keep = spec.want(path) || !!spec.history?.(path);
      if (keep && size > max) {
        warnings.push(`/${path} in layer ${i} is ${size} bytes, over the ${max}-byte limit; skipped`);
        return drain();
      }
      const probe = keep ? undefined : spec.probe?.(path, h.mode ?? 0, size);
      if (!keep && !probe) {
        if (files.has(path) || probed.has(path)) deleted.push(path);
        return drain();
      }
      const chunks: Buffer[] = [];
      body.on('data', (d: unknown) => {
        const c = d as Buffer;
        if (probe) probe.push(c);
        else chunks.push(c);
      });
      body.on('end', () => {
        if (probe) {
          const kept = probe.end();
          if (kept) addedProbes.set(path, { path, layer: i, data: kept });
          else if (probed.has(path)) deleted.push(path);
        } else added.set(path, { path, layer: i, data: Buffer.concat(chunks) });
        next();
      });
    });
    stream.pipe(ex);
    try {
      await done;
    } catch (e) {
      stream.destroy();
      ex.destroy();
      warnings.push(
        `layer ${i} could not be read to its end (${(e as Error).message}); files after the damage are missing`,
      );
    }
    for (const [path, target] of links) {
      const t = added.get(target) ?? files.get(target);
      if (t) added.set(path, { path, layer: i, data: t.data });
    }
    for (const map of [files, probed]) {
      for (const key of [...map.keys()]) {
        if (deleted.some((d) => under(key, d)) || opaque.some((d) => key !== d && under(key, d))) map.delete(key);
      }
    }
    for (const [k, v] of added) {
      files.set(k, v);
      probed.delete(k);
    }
    for (const [k, v] of addedProbes) {
      probed.set(k, v);
      files.delete(k);
    }
    // The history of database files: this layer's version, or its deletion.
    for (const [k, v] of added) if (spec.history?.(k)) push(history, k, { layer: i, data: v.data });
    for (const k of history.keys()) {
      if (!added.has(k) && !files.has(k) && history.get(k)!.at(-1)?.data) push(history, k, { layer: i });
    }
  }
  return { files, history, probed, warnings };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}
