import { chainIds, historyWithLayers } from '../oci/config.js';
import type { ImageIndexOptions } from './image-index.js';
import type { ResolvedImage } from './resolve.js';
import type { WasteReport } from './waste.js';

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

/** What the cache keeps of a stack of layers for `kura layers`: its figures, not its files. */
interface StackSummary {
  format: number;
  waste: WasteReport;
  tarSizes: number[];
  warnings: string[];
}
const STACK_FORMAT = 1;

/** The figures of the whole stack from the cache (by the top layer's ChainID), when they are there. */
async function cachedStack(opts: ImageIndexOptions, chain: string | undefined): Promise<StackSummary | undefined> {
  const buf = chain ? await opts.cache?.getChain?.(chain) : undefined;
  if (!buf) return undefined;
  try {
    const doc = JSON.parse(buf.toString('utf8')) as StackSummary;
    return doc.format === STACK_FORMAT && doc.waste && Array.isArray(doc.tarSizes) ? doc : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `kura layers`: one row per build step, then dive's efficiency and waste (fixed as waste.ts says). A second look at
 * the same stack of layers reads only its cached figures (loading neither the layer indexes nor the tar reader); they
 * are cached only when every layer's bytes hashed to the config's diff_id.
 */
export async function layersReport(r: ResolvedImage, opts: ImageIndexOptions = {}): Promise<LayersReport> {
  const diffIds = r.config.rootfs.diff_ids;
  const chain = diffIds.length === r.layers.length ? chainIds(diffIds).at(-1) : undefined;
  let stack = await cachedStack(opts, chain);
  let read = 0;
  if (stack) for (const w of stack.warnings) opts.onWarning?.(w);
  else {
    const [{ indexImage }, { analyzeWaste }] = await Promise.all([import('./image-index.js'), import('./waste.js')]);
    const idx = await indexImage(r, opts);
    read = idx.read;
    const warnings: string[] = [];
    const waste = analyzeWaste(idx.layers, (m) => {
      warnings.push(m);
      opts.onWarning?.(m);
    });
    stack = { format: STACK_FORMAT, waste, tarSizes: idx.layers.map((l) => l.tarSize), warnings };
    if (chain && opts.cache?.putChain && idx.layers.every((l, i) => l.diffId === diffIds[i]))
      await opts.cache
        .putChain(chain, Buffer.from(JSON.stringify(stack)))
        .catch((e: Error) => opts.onWarning?.(`could not cache the layers' figures: ${e.message}`));
  }
  const { layers: _perLayer, ...figures } = stack.waste;
  return {
    image: r.image.descriptor.digest,
    rows: historyRows(r, stack.waste, stack.tarSizes),
    ...figures,
    layersRead: read,
  };
}
