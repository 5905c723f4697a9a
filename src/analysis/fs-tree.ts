import { posix } from 'node:path';
import { ancestors, type IndexEntry, type LayerIndex } from './layer-index.js';

/** A path of the stacked filesystem: the entry that last wrote it and the layer it came from. */
export interface FlatEntry extends IndexEntry {
  /** Index of the layer (0 = bottom) that last wrote this path. */
  layer: number;
  /** A directory no layer has an entry for, implied by a path below it. */
  implied?: boolean;
  /** For a hard link: the path it links to (type and metadata are then its target's, as `ls -l` shows). */
  hardlink?: string;
  /** For a hard link: where its content is (the target's entry as the link's layer saw it, ggcr#2002). */
  source?: { layer: number; path: string };
}

/** What applying one layer did to the stack below it. */
export interface LayerEffect {
  /** Non-directory paths that were new. */
  added: FlatEntry[];
  /** Non-directory paths that replaced something. */
  modified: { entry: FlatEntry; before: FlatEntry }[];
  /** Non-directory paths removed (by a whiteout, an opaque directory or a replacement by another type). */
  removed: FlatEntry[];
  /** Whiteouts that named nothing below (they do nothing). */
  dangling: string[];
}

/**
 * The stacked filesystem, applied bottom-up the way overlayfs (and `umoci unpack`) does: a layer's
 * whiteouts and opaque markers first (they only act on lower layers, whatever their tar order),
 * then its entries. A non-directory replacing a directory removes the tree below it; a path below
 * a non-directory replaces that with a directory. Whiteouts match names, never through symlinks.
 */
export class FsTree {
  readonly nodes = new Map<string, FlatEntry>();
  private readonly kids = new Map<string, Set<string>>();

  constructor() {
    this.nodes.set('.', {
      path: '.',
      type: 'dir',
      mode: 0o755,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: 0,
      layer: 0,
      implied: true,
    });
  }

  get(p: string): FlatEntry | undefined {
    return this.nodes.get(p);
  }

  /** Paths strictly below `p`, depth first. */
  below(p: string): FlatEntry[] {
    const out: FlatEntry[] = [];
    const walk = (d: string) => {
      for (const k of this.kids.get(d) ?? []) {
        out.push(this.nodes.get(k)!);
        walk(k);
      }
    };
    walk(p);
    return out;
  }

  /** Direct children of a directory. */
  children(p: string): FlatEntry[] {
    return [...(this.kids.get(p) ?? [])].map((k) => this.nodes.get(k)!);
  }

  /** Removes `p` (unless `keepSelf`) and everything below it; returns what went. */
  remove(p: string, keepSelf = false): FlatEntry[] {
    const gone = this.below(p);
    for (const e of gone) {
      this.nodes.delete(e.path);
      this.kids.delete(e.path);
    }
    this.kids.delete(p);
    const self = this.nodes.get(p);
    if (!keepSelf && self && p !== '.') {
      this.nodes.delete(p);
      this.kids.get(posix.dirname(p))?.delete(p);
      gone.unshift(self);
    }
    return gone;
  }

  private put(e: FlatEntry): void {
    const slash = e.path.lastIndexOf('/');
    const parent = slash < 0 ? '.' : e.path.slice(0, slash);
    this.nodes.set(e.path, e);
    let k = this.kids.get(parent);
    if (!k) this.kids.set(parent, (k = new Set()));
    k.add(e.path);
  }

  /** Applies one layer; `layer` is its position. */
  apply(idx: LayerIndex, layer: number, warn?: (m: string) => void): LayerEffect {
    const fx: LayerEffect = { added: [], modified: [], removed: [], dangling: [] };
    const gone = (list: FlatEntry[]) => {
      for (const e of list) if (e.type !== 'dir') fx.removed.push(e);
    };
    for (const o of idx.opaques) if (this.nodes.get(o)?.type === 'dir') gone(this.remove(o, true));
    for (const w of idx.whiteouts) {
      if (this.nodes.has(w)) gone(this.remove(w));
      else fx.dangling.push(w);
    }
    for (const raw of idx.entries) {
      if (raw.path === '.') {
        if (raw.type === 'dir') this.nodes.set('.', { ...raw, layer });
        continue;
      }
      // Every node's parent is a directory of the tree, so a present parent means all ancestors are.
      const slash = raw.path.lastIndexOf('/');
      const parent = slash < 0 ? '.' : raw.path.slice(0, slash);
      if (this.nodes.get(parent)?.type !== 'dir') {
        for (const a of ancestors(raw.path)) {
          const have = this.nodes.get(a);
          if (have?.type === 'dir') continue;
          if (have) gone(this.remove(a));
          this.put({ path: a, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, layer, implied: true });
        }
      }
      let e: FlatEntry = { ...raw, layer };
      if (raw.type === 'hardlink') {
        const t = this.nodes.get(raw.link!);
        if (!t || t.type === 'dir') {
          warn?.(`layer ${layer}: hard link "${raw.path}" → "${raw.link}" has no target; left out`);
          continue;
        }
        e = {
          ...t,
          path: raw.path,
          layer,
          hardlink: t.hardlink ?? t.path,
          source: t.source ?? { layer: t.layer, path: t.path },
        };
        delete e.implied;
      }
      const before = this.nodes.get(raw.path);
      if (before && (before.type !== 'dir' || e.type !== 'dir')) {
        const list = this.remove(raw.path);
        if (before.type === 'dir' || e.type === 'dir') gone(list);
      }
      if (before?.type === 'dir' && e.type === 'dir') this.nodes.set(raw.path, e);
      else this.put(e);
      if (e.type === 'dir') continue;
      if (before && before.type !== 'dir') fx.modified.push({ entry: e, before });
      else fx.added.push(e);
    }
    return fx;
  }

  /** Every path, sorted by name (the root excluded). */
  list(): FlatEntry[] {
    return [...this.nodes.values()]
      .filter((e) => e.path !== '.')
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

/** The filesystem of layers 0…upTo stacked (default: all of them). */
export function stackLayers(
  layers: readonly LayerIndex[],
  upTo = layers.length - 1,
  warn?: (m: string) => void,
): FsTree {
  const t = new FsTree();
  for (let i = 0; i <= upTo; i++) t.apply(layers[i]!, i, warn);
  return t;
}
