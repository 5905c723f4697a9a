import { FsTree, type FlatEntry } from './fs-tree.js';
import type { LayerIndex } from './layer-index.js';

/**
 * dive's efficiency and waste (dive/filetree/efficiency.go, dive/image/analysis.go), with its known
 * flaws fixed (docs/analysis.md lists each):
 *   - every non-directory path of every layer is a "node": a file write counts its size, a removal
 *     counts 0 (as dive counts a file whiteout);
 *   - a removed DIRECTORY (a whiteout of it, an opaque marker, a replacement by a file) is a removal of
 *     each path below it, so its contents count (dive keys it under the directory's own path, which
 *     no file shares, and never flags it);
 *   - a whiteout of something absent does nothing and the walk goes on (dive abandons the walk,
 *     which leaves the efficiency near 100%);
 *   - wasted bytes are the bytes a path's copies take beyond the one the final image keeps: N−1
 *     copies of a file written N times and kept, all N if it is deleted at the end (dive adds the
 *     kept copy too: `diveWastedBytes` reports its figure for comparison).
 * efficiency = Σ min / Σ cum over paths (1 when Σ cum = 0), as dive; userWastedPercent = wasted /
 * Σ size of layers 1…n, as dive (layer 0 taken for the base image; 0 when there is no layer 1).
 */

export interface PathWaste {
  path: string;
  /** Layers that wrote or removed the path (≥ 2). */
  count: number;
  /** Bytes of the copies that the final image does not keep. */
  wasted: number;
  /** dive's figure: the sum of every copy's size, the kept one included. */
  cumulative: number;
  /** Layers (0 = bottom) that touched the path. */
  layers: number[];
  /** Whether the path is gone from the final image. */
  removed: boolean;
}

export interface LayerStats {
  layer: number;
  /** Σ file sizes (dive's layer size). */
  size: number;
  added: number;
  modified: number;
  removed: number;
  /** Bytes of the non-directory paths removed from lower layers. */
  removedBytes: number;
  /** Whiteouts that named nothing below (ignored). */
  dangling: number;
}

export interface WasteReport {
  efficiency: number;
  wastedBytes: number;
  /** dive's own wasted bytes (every copy, the kept one included), for comparison. */
  diveWastedBytes: number;
  userWastedPercent: number;
  /** Σ of every layer's file sizes. */
  totalSize: number;
  /** Σ of the file sizes of layers 1…n. */
  userSize: number;
  layers: LayerStats[];
  /** Paths seen in ≥ 2 layers, most wasted bytes first (then dive's cumulative size, then path). */
  files: PathWaste[];
}

interface Acc {
  cum: number;
  min: number;
  written: number;
  layers: number[];
}

/** Efficiency, waste and per-layer changes of a stack of layer indexes (bottom first). */
export function analyzeWaste(layers: readonly LayerIndex[], warn?: (m: string) => void): WasteReport {
  const tree = new FsTree();
  const acc = new Map<string, Acc>();
  const node = (p: string, layer: number, size: number, written: number) => {
    const a = acc.get(p);
    if (!a) acc.set(p, { cum: size, min: size, written, layers: [layer] });
    else {
      a.cum += size;
      a.min = Math.min(a.min, size);
      a.written += written;
      a.layers.push(layer);
    }
  };
  const own = (e: FlatEntry) => (e.hardlink ? 0 : e.size);
  const stats: LayerStats[] = layers.map((idx, i) => {
    const fx = tree.apply(idx, i, warn);
    for (const e of fx.added) node(e.path, i, own(e), own(e));
    for (const { entry } of fx.modified) node(entry.path, i, own(entry), own(entry));
    for (const e of fx.removed) node(e.path, i, 0, 0);
    return {
      layer: i,
      size: idx.size,
      added: fx.added.length,
      modified: fx.modified.length,
      removed: fx.removed.length,
      removedBytes: fx.removed.reduce((n, e) => n + own(e), 0),
      dangling: fx.dangling.length,
    };
  });
  let sumMin = 0;
  let sumCum = 0;
  let wastedBytes = 0;
  let diveWastedBytes = 0;
  const files: PathWaste[] = [];
  for (const [path, a] of acc) {
    sumMin += a.min;
    sumCum += a.cum;
    if (a.layers.length < 2) continue;
    const final = tree.get(path);
    const kept = final && final.type !== 'dir' ? own(final) : 0;
    const wasted = a.written - kept;
    wastedBytes += wasted;
    diveWastedBytes += a.cum;
    files.push({ path, count: a.layers.length, wasted, cumulative: a.cum, layers: a.layers, removed: !final });
  }
  files.sort((x, y) => y.wasted - x.wasted || y.cumulative - x.cumulative || (x.path < y.path ? -1 : 1));
  const totalSize = stats.reduce((n, s) => n + s.size, 0);
  const userSize = totalSize - (stats[0]?.size ?? 0);
  return {
    efficiency: sumCum === 0 ? 1 : sumMin / sumCum,
    wastedBytes,
    diveWastedBytes,
    userWastedPercent: userSize > 0 ? wastedBytes / userSize : 0,
    totalSize,
    userSize,
    layers: stats,
    files,
  };
}
