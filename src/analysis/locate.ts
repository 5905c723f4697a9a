import { posix } from 'node:path';
import { cleanPath } from './flatten.js';
import type { LayerIndexLoader } from './image-index.js';
import { ancestors, type IndexEntry, type LayerIndex } from './layer-index.js';

/** Where a regular file's bytes are, found top-down. */
export interface Located {
  layer: number;
  entry: IndexEntry;
}

const byPath = new WeakMap<LayerIndex, Map<string, IndexEntry>>();
function entryAt(idx: LayerIndex, p: string): IndexEntry | undefined {
  let m = byPath.get(idx);
  if (!m) byPath.set(idx, (m = new Map(idx.entries.map((e) => [e.path, e]))));
  return m.get(p);
}

/**
 * Finds the regular file a path names by reading layer indexes from the top down, stopping at the
 * first layer that decides it, so `kura cat` of a file in an upper layer never reads the lower
 * ones. The same rules as FsTree: an entry for the path wins in its layer; a whiteout of it or of
 * a parent, an opaque parent or a non-directory parent hides everything below. Symlinks (at the
 * path or a parent) restart the search at their target, clamped to the root. Returns undefined
 * when the answer needs the whole tree: a hard link, a directory, a missing path or a loop (the
 * caller then stacks every layer, which also words the error).
 */
export async function locateTopDown(loader: LayerIndexLoader, path: string): Promise<Located | undefined> {
  let p = cleanPath(posix.resolve('/', path), 'path');
  for (let hops = 0; hops <= 40; hops++) {
    const next = await scan(loader, p);
    if (!next || 'layer' in next) return next;
    p = next.restart;
  }
  return undefined;
}

async function scan(loader: LayerIndexLoader, p: string): Promise<Located | { restart: string } | undefined> {
  const parents = ancestors(p).filter((a) => a !== '.');
  const pinned = new Set<string>();
  const follow = (link: IndexEntry, rest: string) => {
    const base = link.link!.startsWith('/') ? '/' : `/${posix.dirname(link.path)}`;
    return { restart: cleanPath(posix.normalize(posix.join(base, link.link!, rest)), 'path') };
  };
  for (let i = loader.count - 1; i >= 0; i--) {
    const idx = await loader.get(i);
    const e = entryAt(idx, p);
    if (e) {
      if (e.type === 'file') return { layer: i, entry: e };
      if (e.type === 'symlink') return follow(e, '.');
      return undefined;
    }
    if (idx.whiteouts.includes(p)) return undefined;
    for (const a of parents) {
      if (idx.whiteouts.includes(a) || idx.opaques.includes(a)) return undefined;
      const ae = entryAt(idx, a);
      if (!ae) continue;
      if (ae.type === 'dir') pinned.add(a);
      else if (ae.type === 'symlink' && !pinned.has(a)) return follow(ae, posix.relative(a, p));
      else return undefined;
    }
  }
  return undefined;
}
