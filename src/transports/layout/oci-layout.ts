/** An OCI image layout directory (OciLayout) as a Source and Sink. */
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type {
  Artifact,
  BlobReader,
  Deleter,
  Descriptor,
  Sink,
  Source,
  TagLister,
  WriteOptions,
} from '../../oci/artifact.js';
import { digestAlgorithm, digestHex, isDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { MediaTypes } from '../../oci/mediatypes.js';
import { writeFileAtomic } from '../atomic-file.js';
import { writeBlobFile } from '../blob-file.js';
import { layoutTags, parseIndexJson, REF_NAME, resolveLayoutRef, type IndexJson } from './index-json.js';
import { stripName, loadTree, treeBlobs, treeManifests } from '../../oci/tree.js';

/**
 * An OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), as skopeo, umoci
 * and buildah write it. Tags are the `org.opencontainers.image.ref.name` annotations of index.json.
 */
export class OciLayout implements Source, Sink, TagLister, Deleter {
  /** index.json is read, changed and renamed back one change at a time (copy -a writes tags in parallel). */
  private indexChain: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {}

  private updateIndex<T>(f: (idx: IndexJson) => Promise<T> | T): Promise<T> {
    const run = this.indexChain.then(async () => f(await this.index()));
    this.indexChain = run.catch(() => undefined);
    return run;
  }

  private blobPath(d: Digest): string {
    if (!isDigest(d)) throw new OciError('DIGEST_INVALID', `invalid digest ${String(d).slice(0, 100)}`);
    return join(this.dir, 'blobs', digestAlgorithm(d), digestHex(d));
  }

  private async index(): Promise<IndexJson> {
    const where = `${this.dir}/index.json`;
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.dir, 'index.json'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, manifests: [] };
      throw new Error(`${where} is not a readable OCI index: ${(e as Error).message}`);
    }
    return parseIndexJson(bytes, where);
  }

  readonly blobs: BlobReader = {
    open: async (d) => {
      const path = this.blobPath(d.digest);
      if (!existsSync(path)) throw new OciError('BLOB_UNKNOWN', `${this.dir} has no blob ${d.digest}`);
      return createReadStream(path);
    },
  };

  /** Tags in index.json. */
  async tags(): Promise<string[]> {
    return layoutTags((await this.index()).manifests);
  }

  async get(ref: string): Promise<Artifact> {
    const idx = await this.index();
    const size = async (d: Digest) =>
      stat(this.blobPath(d)).then(
        (s) => (s.isFile() ? s.size : undefined),
        () => undefined,
      );
    const r = await resolveLayoutRef(idx.manifests, ref, { size, reader: this.blobs, where: this.dir });
    return { ...r, blobs: this.blobs };
  }

  async delete(ref: string): Promise<void> {
    await this.updateIndex(async (idx) => {
      const keep = idx.manifests.filter((m) => (isDigest(ref) ? m.digest !== ref : m.annotations?.[REF_NAME] !== ref));
      if (keep.length === idx.manifests.length)
        throw new OciError('MANIFEST_UNKNOWN', `${this.dir} has no image "${ref}"`);
      await this.saveIndex({ ...idx, manifests: keep });
    });
  }

  private async saveIndex(idx: IndexJson): Promise<void> {
    await writeFileAtomic(
      join(this.dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OciIndex,
        manifests: idx.manifests,
        ...(idx.annotations ? { annotations: idx.annotations } : {}),
      }),
    );
  }

  /** Writes one blob, verified against its descriptor, atomically; skips blobs already present. */
  private async putBlob(d: Descriptor, from: BlobReader, opts: WriteOptions): Promise<void> {
    const path = this.blobPath(d.digest);
    const ev = { digest: d.digest, mediaType: d.mediaType, total: d.size };
    if (existsSync(path) && (await stat(path)).size === d.size) {
      opts.onProgress?.({ ...ev, complete: d.size, status: 'skipped' });
      return;
    }
    await mkdir(join(this.dir, 'blobs', digestAlgorithm(d.digest)), { recursive: true });
    await writeBlobFile(d, from, path, opts);
  }

  async write(ref: string, artifact: Artifact, opts: WriteOptions = {}): Promise<Descriptor> {
    await mkdir(this.dir, { recursive: true });
    const tree = await loadTree(artifact);
    const queue = treeBlobs(tree);
    // Every worker ends before a failure is reported: no blob is still being written (or its
    // temporary file removed) when the caller looks at the layout.
    let failed: { e: unknown } | undefined;
    await Promise.allSettled(
      Array.from({ length: 4 }, async () => {
        for (let d = queue.shift(); d && !failed; d = queue.shift()) {
          await this.putBlob(d, artifact.blobs, opts).catch((e: unknown) => {
            failed ??= { e };
          });
        }
      }),
    );
    if (failed) throw failed.e;
    for (const m of treeManifests(tree))
      await this.putBlob(m.descriptor, { open: async () => Readable.from([m.manifest]) }, {});
    if (!existsSync(join(this.dir, 'oci-layout')))
      await writeFile(join(this.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const base = stripName(artifact.descriptor);
    await this.updateIndex(async (idx) => {
      if (isDigest(ref)) {
        if (!idx.manifests.some((m) => m.digest === ref)) idx.manifests = [...idx.manifests, base];
      } else {
        const entry: Descriptor = { ...base, annotations: { ...(base.annotations ?? {}), [REF_NAME]: ref } };
        idx.manifests = [...idx.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref), entry];
      }
      await this.saveIndex(idx);
    });
    return base;
  }
}
