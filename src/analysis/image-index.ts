import type { Readable } from 'node:stream';
import { indexLayer, type ContentInspector, type IndexEntry, type LayerIndex } from './layer-index.js';
import type { ResolvedImage } from './resolve.js';

/** Where per-layer indexes are kept between runs (the local store's IndexCacheDir is one). */
export interface IndexCache {
  get(diffId: string): Promise<Buffer | undefined>;
  put(diffId: string, doc: Buffer): Promise<void>;
  /** A summary of a whole stack of layers, by the ChainID of its top layer (`kura layers` keeps its figures there). */
  getChain?(chainId: string): Promise<Buffer | undefined>;
  putChain?(chainId: string, doc: Buffer): Promise<void>;
}

/** A scan of file contents run in the same pass as the index; its per-layer results are cached with it. */
export interface LayerScanner<T> {
  /** Names the scanner and its rule set: results cached under another id are not reused. */
  id: string;
  wants(e: IndexEntry): boolean;
  scan(e: IndexEntry, data: Buffer): T[];
}

/** A layer index with the results of the scanners that ran over it. */
export interface ScannedIndex extends LayerIndex {
  scans?: Record<string, unknown[]>;
}

export interface ImageIndexOptions {
  /** sha256 of every file's content (diff needs it). */
  digests?: boolean;
  cache?: IndexCache;
  scanners?: LayerScanner<unknown>[];
  onWarning?: (m: string) => void;
}

export interface ImageIndexes {
  layers: ScannedIndex[];
  /** How many layers were read (the rest came from the cache). */
  read: number;
}

/** The cache format's version: a change of the index shape bumps it. */
const FORMAT = 1;

async function fromCache(
  cache: IndexCache | undefined,
  diffId: string | undefined,
  opts: ImageIndexOptions,
): Promise<ScannedIndex | undefined> {
  if (!cache || !diffId) return undefined;
  const buf = await cache.get(diffId);
  if (!buf) return undefined;
  try {
    const doc = JSON.parse(buf.toString('utf8')) as { format?: number; index?: ScannedIndex };
    const idx = doc.index;
    if (doc.format !== FORMAT || !idx || idx.diffId !== diffId || !Array.isArray(idx.entries)) return undefined;
    if (opts.digests && !idx.digests) return undefined;
    if (opts.scanners?.some((s) => !idx.scans?.[s.id])) return undefined;
    return idx;
  } catch {
    return undefined;
  }
}

/** Reads one layer into an index (and runs the scanners), once. */
export async function readLayerIndex(
  open: () => Promise<Readable>,
  opts: ImageIndexOptions = {},
): Promise<ScannedIndex> {
  const scans: Record<string, unknown[]> = {};
  for (const s of opts.scanners ?? []) scans[s.id] = [];
  const scanners = opts.scanners ?? [];
  const inspector: ContentInspector | undefined = scanners.length
    ? {
        wants: (e) => scanners.some((s) => s.wants(e)),
        inspect: (e, data) => {
          for (const s of scanners) if (s.wants(e)) scans[s.id]!.push(...s.scan(e, data));
        },
      }
    : undefined;
  const idx = await indexLayer(await open(), { digests: opts.digests, ...(inspector ? { inspector } : {}) });
  return scanners.length ? { ...idx, scans } : idx;
}

/**
 * One layer's index at a time (cached ones from the cache), each fetched once; `read` counts the layers read from their
 * bytes.
 */
export class LayerIndexLoader {
  private readonly streams: (() => Promise<Readable>)[];
  private readonly done = new Map<number, Promise<ScannedIndex>>();
  read = 0;

  constructor(
    private readonly r: ResolvedImage,
    private readonly opts: ImageIndexOptions = {},
  ) {
    this.streams = r.layers.map((l) => l.uncompressed);
  }

  get count(): number {
    return this.streams.length;
  }

  /** The index of layer i (0 = bottom). */
  get(i: number): Promise<ScannedIndex> {
    let p = this.done.get(i);
    if (!p) this.done.set(i, (p = this.load(i)));
    return p;
  }

  private async load(i: number): Promise<ScannedIndex> {
    const opts = this.opts;
    const want = this.r.config.rootfs.diff_ids[i];
    const hit = await fromCache(opts.cache, want, opts);
    if (hit) return hit;
    const idx = await readLayerIndex(this.streams[i]!, opts);
    this.read++;
    for (const w of idx.warnings) opts.onWarning?.(`layer ${i}: ${w}`);
    if (want && idx.diffId !== want)
      opts.onWarning?.(`layer ${i}: its content hashes to ${idx.diffId}, but the config says ${want}; not cached`);
    else if (opts.cache) {
      await opts.cache
        .put(idx.diffId, Buffer.from(JSON.stringify({ format: FORMAT, index: idx })))
        .catch((e: Error) => opts.onWarning?.(`could not cache the index of layer ${i}: ${e.message}`));
    }
    return idx;
  }
}

/**
 * The per-layer indexes of an image, bottom first: from the cache when it has them (by the config's
 * diff_id), else read from the layer (each layer once, streaming) and cached under the diff_id
 * computed from its bytes. A layer whose bytes do not hash to the config's diff_id is not cached.
 */
export async function indexImage(r: ResolvedImage, opts: ImageIndexOptions = {}): Promise<ImageIndexes> {
  const loader = new LayerIndexLoader(r, opts);
  const layers: ScannedIndex[] = [];
  for (let i = 0; i < loader.count; i++) layers.push(await loader.get(i));
  return { layers, read: loader.read };
}
