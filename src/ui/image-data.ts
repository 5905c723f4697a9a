// What the files, diff and SBOM pages read from an image: the registry's own blobs as an Artifact, per-layer
// indexes cached in memory (compressed, bounded by bytes), one analysis at a time, and the caps that bound it.
import { Readable } from 'node:stream';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { analyzeWaste, type WasteReport } from '../analysis/waste.js';
import { indexImage, type IndexCache } from '../analysis/image-index.js';
import { stackLayers, type FsTree } from '../analysis/fs-tree.js';
import type { LayerIndex } from '../analysis/layer-index.js';
import { resolveImage, type ResolvedImage } from '../analysis/resolve.js';
import type { Artifact, Descriptor } from '../oci/artifact.js';
import { OciError } from '../oci/errors.js';
import { configPlatform, isIndex } from '../oci/image.js';
import { isManifestMediaType } from '../oci/mediatypes.js';
import type { Registry } from '../registry/registry.js';

/** Images whose layers (compressed) add up to more are not opened here: `kura ls`/`diff`/`sbom` can. */
export const IMAGE_BYTES_CAP = 2 * 1024 ** 3;
/** Paths over all layers at most (a layer index is ~100 bytes a path in memory). */
export const ENTRIES_CAP = 500_000;
/** Compressed layer indexes kept between requests. */
const INDEX_CACHE_BYTES = 64 * 1024 ** 2;
/** Analysed images (trees, waste) kept for paging through one image. */
const VIEWS_KEPT = 4;

/** An image manifest or index of a repository, read from the registry's own stores (no pull is recorded). */
export async function registryArtifact(registry: Registry, repo: string, digest: string): Promise<Artifact> {
  const record = await registry.statManifest(repo, digest);
  const blobs = {
    async open(d: Descriptor): Promise<Readable> {
      if (isManifestMediaType(d.mediaType)) {
        await registry.statManifest(repo, d.digest);
        return Readable.from([await registry.manifestBytes(d.digest)]);
      }
      return (await registry.readBlob(repo, d.digest)).stream;
    },
  };
  const descriptor: Descriptor = { mediaType: record.mediaType, digest: record.digest, size: record.size };
  return { descriptor, manifest: await registry.manifestBytes(record.digest), blobs };
}

/** Layer indexes by diff_id, deflated, least recently used dropped past a byte budget. */
export class MemoryIndexCache implements IndexCache {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly budget = INDEX_CACHE_BYTES) {}

  async get(diffId: string): Promise<Buffer | undefined> {
    const z = this.map.get(diffId);
    if (!z) return undefined;
    this.map.delete(diffId);
    this.map.set(diffId, z);
    return inflateRawSync(z);
  }

  async put(diffId: string, doc: Buffer): Promise<void> {
    const z = deflateRawSync(doc, { level: 1 });
    if (z.length > this.budget) return;
    const old = this.map.get(diffId);
    if (old) this.bytes -= old.length;
    this.map.delete(diffId);
    this.map.set(diffId, z);
    this.bytes += z.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.budget) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }
}

/** An analysed image: its layers' indexes, the stacked tree and dive's waste figures. */
export interface ImageView {
  image: ResolvedImage;
  layers: LayerIndex[];
  tree: FsTree;
  waste: WasteReport;
  /** Directory path (root-relative, `.` the root) → bytes of the regular files below it. */
  dirBytes: Map<string, number>;
}

function directoryBytes(tree: FsTree): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of tree.nodes.values()) {
    if (e.type !== 'file' || e.size === 0) continue;
    let p = e.path;
    for (;;) {
      const slash = p.lastIndexOf('/');
      p = slash < 0 ? '.' : p.slice(0, slash);
      out.set(p, (out.get(p) ?? 0) + e.size);
      if (p === '.') break;
    }
  }
  return out;
}

/** A runnable image of an index, by platform: the children the index lists, for the page to offer. */
export interface IndexChoice {
  index: true;
  children: Descriptor[];
}

export class ImageAnalyses {
  readonly cache = new MemoryIndexCache();
  private readonly views = new Map<string, Promise<ImageView>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly registry: Registry) {}

  /** Runs heavy work one at a time (the registry serves pushes and pulls meanwhile). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The image for `digest` (an index's child for `platform`), its size checked against the cap. */
  async resolve(repo: string, digest: string, platform?: ResolvedImage['config']): Promise<ResolvedImage> {
    const root = await registryArtifact(this.registry, repo, digest);
    const r = await resolveImage(root, platform ? configPlatform(platform) : undefined);
    const total = r.image.manifest.layers.reduce((s, l) => s + l.size, 0);
    if (total > IMAGE_BYTES_CAP) {
      throw new OciError(
        'DENIED',
        `this image's layers are ${total} bytes, more than the ${IMAGE_BYTES_CAP} the web UI opens; ` +
          `use kura ls, kura diff or kura sbom on it`,
      );
    }
    return r;
  }

  /** Whether the manifest is an index (the page then offers its platforms). */
  async isIndex(repo: string, digest: string): Promise<Artifact | null> {
    const a = await registryArtifact(this.registry, repo, digest);
    return isIndex(a) ? a : null;
  }

  /** Indexes of every layer of `r` (content digests included, so diff and files share the cache), capped. */
  async indexes(r: ResolvedImage): Promise<LayerIndex[]> {
    return this.serial(async () => {
      const { layers } = await indexImage(r, { digests: true, cache: this.cache });
      const entries = layers.reduce((s, l) => s + l.entries.length + l.whiteouts.length, 0);
      if (entries > ENTRIES_CAP) {
        throw new OciError(
          'DENIED',
          `this image has ${entries} paths over its layers, more than the ${ENTRIES_CAP} the web UI shows; use kura ls`,
        );
      }
      return layers;
    });
  }

  /** The analysed image of a manifest digest (an image manifest), kept for the next pages of the same image. */
  view(repo: string, digest: string): Promise<ImageView> {
    const key = `${repo}@${digest}`;
    let v = this.views.get(key);
    if (v) {
      this.views.delete(key);
      this.views.set(key, v);
      return v;
    }
    v = (async () => {
      const image = await this.resolve(repo, digest);
      const layers = await this.indexes(image);
      const tree = stackLayers(layers);
      return { image, layers, tree, waste: analyzeWaste(layers), dirBytes: directoryBytes(tree) };
    })();
    v.catch(() => this.views.delete(key));
    this.views.set(key, v);
    while (this.views.size > VIEWS_KEPT) this.views.delete(this.views.keys().next().value!);
    return v;
  }

  /** Runs `fn` in the one-at-a-time queue (SBOM cataloguing reads every layer). */
  heavy<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(fn);
  }
}
