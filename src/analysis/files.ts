import { posix } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import picomatch from 'picomatch';
import { OciError } from '../oci/errors.js';
import { cleanPath, readTar } from './flatten.js';
import { FsTree, stackLayers, type FlatEntry } from './fs-tree.js';
import { indexImage, LayerIndexLoader, type ImageIndexOptions } from './image-index.js';
import { locateTopDown } from './locate.js';
import type { LayerIndex } from './layer-index.js';
import type { ResolvedImage } from './resolve.js';

/**
 * The files of an image without unpacking it: the stacked tree (ls), one file's bytes (cat), path
 * resolution through symlinks inside the image root. cp is in extract.ts.
 */

/** The image's final filesystem from its layer indexes (cached when a cache is given). */
export async function imageTree(
  r: ResolvedImage,
  opts: ImageIndexOptions = {},
): Promise<{ tree: FsTree; layers: LayerIndex[] }> {
  const { layers } = await indexImage(r, opts);
  return { tree: stackLayers(layers, layers.length - 1, opts.onWarning), layers };
}

/** A path missing from the image, a loop of symlinks, or a path of the wrong type. */
export class PathError extends Error {}

/** A path as the image shows it: `/etc/passwd`. */
export const shown = (p: string) => `/${p.replace(/^\/+/, '').replace(/^\.$/, '')}`;

/**
 * The entry a path names, following symlinks inside the image root the way the kernel would in a
 * chroot (an absolute target starts at the root, `..` stops at it); the last component is followed
 * only with `followLast`.
 */
export function resolvePath(tree: FsTree, path: string, followLast = true): FlatEntry {
  let rest = cleanPath(posix.resolve('/', path), 'path')
    .split('/')
    .filter((c) => c && c !== '.');
  let cur = '.';
  for (let hops = 0; rest.length; ) {
    const name = rest.shift()!;
    const next = cur === '.' ? name : `${cur}/${name}`;
    const e = tree.get(next);
    if (!e) throw new PathError(`${shown(next)}: no such file or directory in the image`);
    if (e.type === 'symlink' && (rest.length > 0 || followLast)) {
      if (++hops > 40) throw new PathError(`${shown(path)}: too many levels of symbolic links`);
      const target = posix.normalize(posix.join(e.link!.startsWith('/') ? '/' : `/${cur}`, e.link!));
      rest = [...target.split('/').filter((c) => c && c !== '.'), ...rest];
      cur = '.';
      continue;
    }
    if (rest.length && e.type !== 'dir') throw new PathError(`${shown(next)}: not a directory`);
    cur = next;
  }
  return tree.get(cur)!;
}

export interface ListOptions {
  /** Paths or globs (`/etc/*.conf`); none: the root. */
  paths?: string[];
  recursive?: boolean;
  sort?: 'name' | 'size';
}

/**
 * What `kura ls` shows: a directory's children (its whole tree with `recursive`), a file itself, globs matched against
 * every path.
 */
export function listTree(tree: FsTree, opts: ListOptions = {}): FlatEntry[] {
  const out = new Map<string, FlatEntry>();
  const add = (e: FlatEntry, expand: boolean) => {
    if (e.type !== 'dir' || !expand) out.set(e.path, e);
    if (e.type === 'dir' && expand)
      for (const c of opts.recursive ? tree.below(e.path) : tree.children(e.path)) out.set(c.path, c);
  };
  for (const raw of opts.paths?.length ? opts.paths : ['/']) {
    if (picomatch.scan(raw).isGlob) {
      const match = picomatch(raw.replace(/^\/+/, ''), { dot: true });
      const hits = tree.list().filter((e) => match(e.path));
      if (!hits.length) throw new PathError(`${raw}: no path in the image matches`);
      for (const e of hits) {
        out.set(e.path, e);
        if (opts.recursive && e.type === 'dir') add(e, true);
      }
      continue;
    }
    const e = resolvePath(tree, raw, false);
    // `ls DIR` lists its contents; `ls LINK` shows the link, like ls -l; a link to a directory with a trailing slash is
    // followed.
    if (e.type === 'symlink' && raw.endsWith('/')) add(resolvePath(tree, raw, true), true);
    else add(e, true);
  }
  const list = [...out.values()];
  if (opts.sort === 'size') list.sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1));
  else list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return list;
}

/** `ls -l`'s mode column: `-rwxr-xr-x`, `drwxrwxrwt`, `lrwxrwxrwx`, `-rwsr-xr-x`. */
export function modeString(e: { type: string; mode: number }): string {
  const t = { dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p' }[e.type] ?? '-';
  const m = e.mode;
  const x = (bit: number, special: number, on: string) =>
    m & special ? (m & bit ? on : on.toUpperCase()) : m & bit ? 'x' : '-';
  return (
    t +
    (m & 0o400 ? 'r' : '-') +
    (m & 0o200 ? 'w' : '-') +
    x(0o100, 0o4000, 's') +
    (m & 0o040 ? 'r' : '-') +
    (m & 0o020 ? 'w' : '-') +
    x(0o010, 0o2000, 's') +
    (m & 0o004 ? 'r' : '-') +
    (m & 0o002 ? 'w' : '-') +
    x(0o001, 0o1000, 't')
  );
}

/** Where a regular file's bytes are: its own layer entry, or a hard link's target as its layer saw it. */
export function contentSource(e: FlatEntry): { layer: number; path: string } {
  return e.source ?? { layer: e.layer, path: e.path };
}

/**
 * `kura cat`: writes the bytes of the file at `path` (symlinks followed inside the root) to `out`.
 * The file is looked for from the top layer down (locate.ts), so only the layers above it and its
 * own are indexed (none with a warm cache), then only its layer is read again for the bytes; when
 * that cannot decide (hard links, errors), every layer is stacked. A directory or a missing path is
 * a PathError.
 */
export async function catFile(
  r: ResolvedImage,
  path: string,
  out: Writable,
  opts: ImageIndexOptions = {},
): Promise<{ layer: number; size: number; layersIndexed: number }> {
  const loader = new LayerIndexLoader(r, opts);
  const hit = await locateTopDown(loader, path);
  let src: { layer: number; path: string; size: number };
  if (hit) src = { layer: hit.layer, path: hit.entry.path, size: hit.entry.size };
  else {
    const layers = [];
    for (let i = 0; i < loader.count; i++) layers.push(await loader.get(i));
    const e = resolvePath(stackLayers(layers, layers.length - 1, opts.onWarning), path, true);
    if (e.type === 'dir')
      throw new PathError(`${shown(e.path)} is a directory; list it with kura ls, or copy it out with kura cp`);
    if (e.type !== 'file')
      throw new PathError(
        `${shown(e.path)} is a ${e.type === 'char' || e.type === 'block' ? 'device' : e.type}, not a regular file`,
      );
    src = { ...contentSource(e), size: e.size };
  }
  for await (const entry of readTar(r.layers.map((l) => l.uncompressed)[src.layer]!)) {
    const h = entry.header;
    if (
      (h.type === 'file' || h.type === 'contiguous-file') &&
      h.size === src.size &&
      cleanPath(h.name, `layer ${src.layer}`) === src.path
    ) {
      await pipeline(entry, out, { end: false });
      return { layer: src.layer, size: src.size, layersIndexed: loader.read };
    }
  }
  throw new OciError(
    'BLOB_UNKNOWN',
    `layer ${src.layer} no longer holds ${shown(src.path)} (a stale index cache? run again with --no-cache)`,
  );
}
