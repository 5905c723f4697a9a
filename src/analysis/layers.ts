import { historyWithLayers } from '../oci/config.js';
import { indexImage, type ImageIndexOptions } from './image-index.js';
import type { ResolvedImage } from './resolve.js';
import { analyzeWaste, type WasteReport } from './waste.js';

/** One build step of `kura layers`: a history entry, with its layer's figures when it made one. */
export interface LayerRow {
  /** Position in the history (0 = first step). */
  step: number;
  created?: string;
  createdBy: string;
  comment?: string;
  emptyLayer: boolean;
  /** The layer's position (0 = bottom) when the step made one. */
  layer?: number;
  digest?: string;
  diffId?: string;
  /** Bytes as stored (the descriptor's size). */
  compressedSize: number;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
  /** Σ file sizes (dive's layer size). */
  size: number;
  added: number;
  modified: number;
  removed: number;
  removedBytes: number;
  /** Whiteouts naming nothing below (ignored, the walk goes on). */
  danglingWhiteouts: number;
}

/** The image's waste figures (waste.ts, without the per-layer stats the rows carry), and its rows. */
export interface LayersReport extends Omit<WasteReport, 'layers'> {
  image: string;
  rows: LayerRow[];
  /** Layers read from their bytes (the others came from the cache). */
  layersRead: number;
}

/**
 * Rows of the history, the non-empty ones matched to the layers in order; one row per layer when the history does not
 * match.
 */
function historyRows(r: ResolvedImage, w: WasteReport, tarSizes: number[]): LayerRow[] {
  const diffIds = r.config.rootfs.diff_ids;
  let steps = historyWithLayers(r.config);
  if (steps.filter((s) => s.layer !== undefined).length !== r.layers.length) {
    steps = r.layers.map((_, i) => ({ entry: { created_by: '' }, layer: i }));
  }
  return steps.map(({ entry, layer }, step) => {
    const l = layer === undefined ? undefined : w.layers[layer]!;
    const d = layer === undefined ? undefined : r.layers[layer]!.descriptor;
    return {
      step,
      ...(entry.created ? { created: entry.created } : {}),
      createdBy: entry.created_by ?? '',
      ...(entry.comment ? { comment: entry.comment } : {}),
      emptyLayer: layer === undefined,
      ...(layer !== undefined ? { layer, digest: d!.digest, diffId: diffIds[layer] } : {}),
      compressedSize: d?.size ?? 0,
      uncompressedSize: layer === undefined ? 0 : tarSizes[layer]!,
      size: l?.size ?? 0,
      added: l?.added ?? 0,
      modified: l?.modified ?? 0,
      removed: l?.removed ?? 0,
      removedBytes: l?.removedBytes ?? 0,
      danglingWhiteouts: l?.dangling ?? 0,
    };
  });
}

/** `kura layers`: one row per build step, then dive's efficiency and waste (fixed as waste.ts says). */
export async function layersReport(r: ResolvedImage, opts: ImageIndexOptions = {}): Promise<LayersReport> {
  const { layers, read } = await indexImage(r, opts);
  const w = analyzeWaste(layers, opts.onWarning);
  const { layers: _perLayer, ...figures } = w;
  return {
    image: r.image.descriptor.digest,
    rows: historyRows(
      r,
      w,
      layers.map((l) => l.tarSize),
    ),
    ...figures,
    layersRead: read,
  };
}
