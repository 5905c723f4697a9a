/** The local image store (LocalStore): docker's image store without a daemon. */
import { readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type {
  Artifact,
  Deleter,
  Descriptor,
  Platform,
  Sink,
  Source,
  TagLister,
  WriteOptions,
} from '../../oci/artifact.js';
import { parseImageConfig } from '../../oci/config.js';
import { isDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { checkImagePlatform, imageForPlatform } from '../../oci/image.js';
import { parseArtifactManifest } from '../../oci/manifest.js';
import { isIndexMediaType } from '../../oci/mediatypes.js';
import { formatPlatform, hostPlatform } from '../../oci/platform.js';
import { readManifestByDigest } from '../layout/index-json.js';
import { BlobDir } from './blobs.js';
import { IndexCacheDir } from './index-cache.js';
import { unpackedSizes } from './sizes.js';
import {
  diskUsage,
  dropImage,
  findImage,
  freedBlobs,
  normalizeName,
  planPrune,
  removeFromTable,
  type DeleteItem,
  type DiskUsage,
  type PruneOptions,
  type PrunePlan,
} from './plan.js';
import { ImageTableFile, type ImageRecord, type StoredBlob } from './table.js';
import { stripName, loadTree, treeBlobs, treeManifests } from '../../oci/tree.js';
import { readSmallBlob } from '../../oci/blob.js';

export {
  normalizeName,
  type DeleteItem,
  type DiskUsage,
  type ImageUsage,
  type LabelFilter,
  type PruneOptions,
  type PrunePlan,
} from './plan.js';
export type { ImageRecord, StoredBlob } from './table.js';
export { imageId, shortId } from './record.js';

export { defaultStoreDir } from './store-dir.js';

export interface LocalStoreOptions {
  /** Sink.write of an index keeps only this platform's image. Unset: indexes are stored whole. */
  platform?: Platform;
  /** How long to wait for another process's lock on images.json (default 60 s). */
  lockTimeoutMs?: number;
  /** The clock images are stamped (`added`) and orphans aged by: Date.now unless a test injects one. */
  now?: () => number;
}

export interface WriteImageOptions extends WriteOptions {
  /** The platform to take from an index (default: this machine's). */
  platform?: Platform;
  /** The platform was asked for: a single image of another platform is refused. */
  strictPlatform?: boolean;
  /**
   * `registry/repo@digest` the image was pulled by or pushed to (default: the name's repository and the artifact's
   * digest); false for none, as for a loaded image until it is pushed.
   */
  repoDigest?: string | false;
}

export interface WriteImageResult {
  image: ImageRecord;
  /** false when the name already named this very image ("Image is up to date"). */
  changed: boolean;
}

/**
 * The local image store, the daemon-less stand-in for docker's: single-platform images (like
 * docker), content-addressed blobs shared between images, and an image table. Layout:
 *
 *     <dir>/blobs/sha256/<hex>   layers, configs, manifests; written verified, fsynced, renamed
 *     <dir>/images.json          the image table, replaced whole by rename
 *     <dir>/images.lock          held (pid inside) while a process changes images.json
 *     <dir>/index/sha256/<hex>.json.gz   per-layer file indexes by diff_id (analysis cache)
 *
 * Sizes are bytes on disk: compressed layers as pulled, plus config and manifest.
 * `pull` resolves an index to one platform (writeImage); the plain Sink `write` stores an index
 * whole unless the store was opened with a platform, so that copies between media stay lossless.
 */
export class LocalStore implements Source, Sink, TagLister, Deleter {
  readonly blobs: BlobDir;
  /** Per-layer file indexes of the analysis commands, by diff_id (index-cache.ts). */
  readonly indexes: IndexCacheDir;
  private readonly table: ImageTableFile;
  private swept = false;

  private readonly stamp = (): string => new Date((this.opts.now ?? Date.now)()).toISOString();

  constructor(
    readonly dir: string,
    readonly opts: LocalStoreOptions = {},
  ) {
    this.blobs = new BlobDir(dir);
    this.indexes = new IndexCacheDir(dir);
    this.table = new ImageTableFile(dir, opts.lockTimeoutMs);
  }

  /**
   * Every image, newest first; `danglingOnly` keeps images without a tag (`all`: docker's -a, a no-op: no intermediate
   * images).
   */
  async list(opts: { danglingOnly?: boolean; all?: boolean } = {}): Promise<ImageRecord[]> {
    const t = await this.table.read();
    return t.images
      .filter((r) => !opts.danglingOnly || r.names.length === 0)
      .sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || b.added.localeCompare(a.added));
  }

  /** The image a name, image ID (prefix) or digest stands for, or undefined. */
  async find(term: string): Promise<ImageRecord | undefined> {
    return findImage(await this.table.read(), term)?.rec;
  }

  /**
   * `ref`: a name with docker's defaults (`nginx` is docker.io/library/nginx:latest), an image ID (prefix) or a digest.
   */
  async get(ref: string): Promise<Artifact> {
    const rec = await this.find(ref);
    if (rec) {
      const d: Descriptor = {
        mediaType: rec.mediaType,
        digest: rec.digest,
        size: rec.blobs.find((b) => b.digest === rec.digest)!.size,
      };
      return { descriptor: d, manifest: await readSmallBlob(this.blobs, d), blobs: this.blobs };
    }
    if (isDigest(ref)) {
      // Any manifest in the store (an index child, say) can be read by digest; its size is checked before reading.
      const st = await stat(this.blobs.path(ref)).catch(() => undefined);
      if (st?.isFile())
        return {
          ...(await readManifestByDigest(this.blobs, ref, st.size, `the image store ${this.dir}`)),
          blobs: this.blobs,
        };
    }
    throw new OciError(
      'MANIFEST_UNKNOWN',
      `no image "${ref}" in the image store ${this.dir}; pull it first (kura pull ${ref})`,
    );
  }

  /** Stores an artifact under a name (a digest stores it unnamed); see the class comment for indexes. */
  async write(ref: string, artifact: Artifact, opts: WriteOptions = {}): Promise<Descriptor> {
    const image =
      this.opts.platform && isIndexMediaType(artifact.descriptor.mediaType)
        ? await pickPlatform(artifact, this.opts.platform)
        : artifact;
    const name = isDigest(ref) ? undefined : normalizeName(ref).name;
    await this.store(image, name, undefined, opts);
    return stripName(image.descriptor);
  }

  /** What `pull` does: one platform of an index (default this machine's), named, with its repo digest. */
  async writeImage(name: string, artifact: Artifact, opts: WriteImageOptions = {}): Promise<WriteImageResult> {
    const n = normalizeName(name);
    const image = isIndexMediaType(artifact.descriptor.mediaType)
      ? await pickPlatform(artifact, opts.platform ?? hostPlatform())
      : await checkPlatform(artifact, opts.strictPlatform ? opts.platform : undefined);
    // A repo digest is where the image was pulled from or pushed to: a loaded image has none (false).
    const repoDigest =
      opts.repoDigest === false ? undefined : (opts.repoDigest ?? `${n.repo}@${artifact.descriptor.digest}`);
    return this.store(image, n.tagged ? n.name : undefined, repoDigest, opts);
  }

  private async store(
    a: Artifact,
    name: string | undefined,
    repoDigest: string | undefined,
    opts: WriteOptions,
  ): Promise<WriteImageResult> {
    if (!this.swept) {
      this.swept = true;
      await this.blobs.sweep();
    }
    const tree = await loadTree(a);
    const blobs = treeBlobs(tree);
    const manifests = treeManifests(tree);
    const all: StoredBlob[] = [
      ...manifests.map((m) => ({ digest: m.descriptor.digest, size: m.manifest.length })),
      ...blobs.map((b) => ({ digest: b.digest, size: b.size })),
    ];
    for (let attempt = 0; ; attempt++) {
      const queue = [...blobs];
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let d = queue.shift(); d; d = queue.shift()) await this.blobs.put(d, a.blobs, opts);
        }),
      );
      for (const m of manifests)
        await this.blobs.put(
          { ...m.descriptor, size: m.manifest.length },
          { open: async () => Readable.from([m.manifest]) },
        );
      const meta = await this.describe(a);
      const known = Object.assign({}, ...(await this.table.read()).images.map((r) => r.layerSizes ?? {})) as Record<
        string,
        number
      >;
      const layerSizes = await unpackedSizes(a, (d) => this.blobs.path(d.digest), known);
      const done = await this.table.update((t) => {
        // A concurrent rmi may have deleted a blob this image shares: write it again, then commit.
        if (all.some((b) => !this.blobs.has(b.digest, b.size))) return { save: false, result: undefined };
        const now = this.stamp();
        let rec = t.images.find((r) => r.digest === a.descriptor.digest);
        const before = t.images.find((r) =>
          name ? r.names.includes(name) : !!repoDigest && r.repoDigests.includes(repoDigest),
        );
        if (!rec) {
          rec = {
            digest: a.descriptor.digest,
            mediaType: a.descriptor.mediaType,
            names: [],
            repoDigests: [],
            added: now,
            size: all.reduce((s, b) => s + b.size, 0),
            blobs: all,
            ...meta,
          };
          t.images.push(rec);
        }
        if (!rec.layerSizes && Object.keys(layerSizes).length) rec.layerSizes = layerSizes;
        for (const r of t.images) {
          if (r === rec) continue;
          if (name) r.names = r.names.filter((x) => x !== name);
          if (repoDigest) r.repoDigests = r.repoDigests.filter((x) => x !== repoDigest);
        }
        if (name && !rec.names.includes(name)) rec.names.push(name);
        if (repoDigest && !rec.repoDigests.includes(repoDigest)) rec.repoDigests.push(repoDigest);
        rec.added = now;
        return { save: true, result: { image: rec, changed: before !== rec } };
      });
      if (done) return done;
      if (attempt >= 3)
        throw new Error(
          `blobs of ${a.descriptor.digest} keep disappearing from ${this.dir}; is another kura pruning it?`,
        );
    }
  }

  /** What the table says about an image, from its config (read back from the store, verified). */
  private async describe(a: Artifact): Promise<Pick<ImageRecord, 'configDigest' | 'created' | 'labels' | 'platform'>> {
    const parsed = parseArtifactManifest(a);
    const config = parsed.kind === 'image' ? parsed.manifest.config : undefined;
    if (!config) return { configDigest: null, created: null, labels: {}, platform: null };
    try {
      const c = parseImageConfig(await readSmallBlob(this.blobs, config));
      const platform = formatPlatform({
        os: c.os,
        architecture: c.architecture,
        ...(c.variant ? { variant: c.variant } : {}),
      });
      return { configDigest: config.digest, created: c.created ?? null, labels: c.config?.Labels ?? {}, platform };
    } catch {
      // An artifact that is not a container image (a Helm chart, say) is stored all the same.
      return { configDigest: config.digest, created: null, labels: {}, platform: null };
    }
  }

  /** Tagged names in the store. */
  async tags(): Promise<string[]> {
    return (await this.table.read()).images.flatMap((r) => r.names).sort();
  }

  /** Removes a name (or, by digest, the image with all its names). */
  async delete(ref: string): Promise<void> {
    const r = await this.remove([ref], { force: isDigest(ref) });
    if (r.errors.length) throw new OciError('MANIFEST_UNKNOWN', r.errors.join('; '));
  }

  /** Gives the image SOURCE (name, ID or digest) the name TARGET, taking it from any other image. */
  async tag(source: string, target: string): Promise<ImageRecord> {
    const n = normalizeName(target);
    if (!n.tagged) throw new Error(`cannot tag with a digest reference (${target}); give a tag: NAME[:TAG]`);
    return this.table.update((t) => {
      const m = findImage(t, source);
      if (!m) throw new OciError('MANIFEST_UNKNOWN', `no such image: ${source} (see kura images)`);
      for (const r of t.images) r.names = r.names.filter((x) => x !== n.name);
      m.rec.names.push(n.name);
      m.rec.added = this.stamp();
      return { save: true, result: m.rec };
    });
  }

  /** Docker's `rmi`, one term after the other; each term's failure is reported, the others go on. */
  async remove(
    terms: string[],
    opts: { force?: boolean } = {},
  ): Promise<{ items: DeleteItem[]; errors: string[]; reclaimed: number }> {
    return this.table.update(async (t) => {
      const items: DeleteItem[] = [];
      const errors: string[] = [];
      const removed: ImageRecord[] = [];
      for (const term of terms) {
        try {
          const r = removeFromTable(t, term, !!opts.force);
          items.push(...r.items);
          removed.push(...r.removed);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      const freed = freedBlobs(removed, t.images);
      const after = () => this.dropIndexes(removed, t.images).then(() => this.blobs.remove(freed.map((b) => b.digest)));
      return {
        save: items.length > 0,
        result: { items, errors, reclaimed: freed.reduce((s, b) => s + b.size, 0) },
        after,
      };
    });
  }

  /** The prune plan without applying it (`--dry-run`); crash leftovers older than an hour included. */
  async planPrune(opts: PruneOptions = {}): Promise<PrunePlan> {
    const t = await this.table.read();
    return this.withOrphans(planPrune(t, opts), t);
  }

  /** Plans and applies a prune under the lock: the plan returned is what was deleted. */
  async prune(opts: PruneOptions = {}): Promise<PrunePlan & { items: DeleteItem[] }> {
    return this.table.update(async (t) => {
      const plan = await this.withOrphans(planPrune(t, opts), t);
      const items: DeleteItem[] = [];
      for (const r of plan.images) items.push(...dropImage(t, r));
      const after = () =>
        this.dropIndexes(plan.images, t.images).then(() => this.blobs.remove(plan.blobs.map((b) => b.digest)));
      return { save: plan.images.length > 0, result: { ...plan, items }, after };
    });
  }

  /** The index cache entries of removed images that no kept image shares go with them (before their configs do). */
  private dropIndexes(removed: ImageRecord[], kept: ImageRecord[]): Promise<void> {
    const configs = (rs: ImageRecord[]) => rs.map((r) => r.configDigest);
    return this.indexes.dropImages(configs(removed), configs(kept), (d) => readFile(this.blobs.path(d)));
  }

  /** Disk usage of the store (see DiskUsage). */
  async df(): Promise<DiskUsage> {
    const t = await this.table.read();
    // Orphaned blobs (an interrupted write's) are freed by prune too.
    return { ...diskUsage(t), reclaimable: (await this.withOrphans(planPrune(t, { all: true }), t)).reclaimed };
  }

  private async withOrphans(plan: PrunePlan, t: { images: ImageRecord[] }): Promise<PrunePlan> {
    const known = new Set(t.images.flatMap((r) => r.blobs.map((b) => b.digest)));
    const hourAgo = (this.opts.now ?? Date.now)() - 3600_000;
    const orphans = (await this.blobs.list())
      .filter((b) => !known.has(b.digest) && b.mtimeMs < hourAgo)
      .map(({ digest, size }) => ({ digest, size }));
    return {
      ...plan,
      blobs: [...plan.blobs, ...orphans],
      reclaimed: plan.reclaimed + orphans.reduce((s, b) => s + b.size, 0),
    };
  }
}

/**
 * The image of an index for `want` (oci/image.ts imageForPlatform), stored without its index entry's platform and name.
 */
async function pickPlatform(a: Artifact, want: Platform): Promise<Artifact> {
  const { image } = await imageForPlatform(a, want);
  const { platform: _p, ...descriptor } = stripName(image.descriptor);
  return { ...image, descriptor };
}

/** A single image asked for with --platform must be of that platform (docker refuses it too). */
async function checkPlatform(a: Artifact, want: Platform | undefined): Promise<Artifact> {
  if (!want) return a;
  const parsed = parseArtifactManifest(a);
  if (parsed.kind !== 'image') return a;
  const config = parsed.manifest.config;
  const c = parseImageConfig(await readSmallBlob(a.blobs, config));
  const have: Platform = { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) };
  checkImagePlatform(a, want, have);
  return a;
}

export type { Digest };
