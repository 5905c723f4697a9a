/** docker-archive written (DockerArchiveWriter), in Docker 25's shape, whole on close. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Artifact, Closer, Descriptor, Platform, Sink, WriteOptions } from '../../oci/artifact.js';
import type { Compression } from '../../oci/compression.js';
import { parseImageConfig } from '../../oci/config.js';
import { digestHex, digestOf, isDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { imageForPlatform } from '../../oci/image.js';
import { formatImageReference, parseImageReference } from '../../oci/imageref.js';
import { parseImageManifest } from '../../oci/manifest.js';
import { MediaTypes, isImageManifestMediaType } from '../../oci/mediatypes.js';
import { hostPlatform } from '../../oci/platform.js';
import { removeTemp } from '../../oci/temps.js';
import { stagingDir, tarDirectory } from './file.js';
import { CONTAINERD_NAME, REF_NAME, blobPath } from '../layout/tar-layout.js';
import { readSmallBlob } from '../../oci/blob.js';
import { writeUncompressedLayer } from '../uncompressed-layer.js';

export interface DockerArchiveWriterOptions {
  /** The image to take from an index (default: this machine's platform), as skopeo does. */
  platform?: Platform;
  /** Compress the whole archive (`kura save --compress`). Default none. */
  compression?: Compression;
}

interface Written {
  manifest: Descriptor;
  config: Digest;
  layers: Digest[];
  /** Fully qualified `registry/repository:tag` names. */
  repoTags: string[];
}

/** `app:v1` → `docker.io/library/app:v1`, refusing what cannot be a RepoTag. */
function repoTag(ref: string): { full: string; repository: string; tag: string } {
  const r = parseImageReference(ref);
  if (r.digest)
    throw new OciError('NAME_INVALID', `a docker-archive names images by tag, not digest: write "${ref}" as name:tag`);
  const tag = r.tag ?? 'latest';
  return {
    full: formatImageReference({ registry: r.registry, repository: r.repository, tag }),
    repository: `${r.registry}/${r.repository}`,
    tag,
  };
}

/**
 * skopeo's `docker-archive:FILE[:REF]` for writing, in the Docker 25+ shape: an OCI layout
 * (`oci-layout`, `index.json`, `blobs/sha256/*`) plus `manifest.json` and `repositories`, layers
 * stored uncompressed under their DiffID, each image under a new OCI manifest. Each `write` adds
 * one image (REF becomes a RepoTag; a digest or '' leaves it untagged). `close()` writes FILE
 * atomically; after a failed write it discards everything and leaves FILE as it was.
 */
export class DockerArchiveWriter implements Sink, Closer {
  /** The staging directory, memoised as a promise so that concurrent writes share one. */
  private staging?: Promise<string>;
  private failed = false;
  private readonly images: Written[] = [];

  constructor(
    readonly file: string,
    readonly options: DockerArchiveWriterOptions = {},
  ) {}

  /** The image manifest to store for `a`: itself, or the index child for the wanted platform. */
  private async pick(a: Artifact): Promise<{ descriptor: Descriptor; manifest: Buffer }> {
    const want = this.options.platform ?? hostPlatform();
    return (await imageForPlatform(a, want, 'a docker-archive holds single images, choose one with --platform')).image;
  }

  async write(ref: string, artifact: Artifact, opts: WriteOptions = {}): Promise<Descriptor> {
    const name = ref === '' || isDigest(ref) ? undefined : repoTag(ref);
    const p = (this.staging ??= stagingDir(this.file));
    p.catch(() => {
      if (this.staging === p) this.staging = undefined;
    });
    const dir = await p;
    try {
      const m = await this.pick(artifact);
      if (!isImageManifestMediaType(m.descriptor.mediaType)) {
        throw new OciError(
          'UNSUPPORTED',
          `${m.descriptor.digest} is ${m.descriptor.mediaType}: a docker-archive holds container images only`,
        );
      }
      const doc = parseImageManifest(m.manifest, m.descriptor.mediaType, `image ${m.descriptor.digest}`);
      const layers = doc.layers;
      const configBytes = await readSmallBlob(artifact.blobs, doc.config);
      const diffIds = parseImageConfig(configBytes).rootfs.diff_ids;
      if (diffIds.length !== layers.length) {
        throw new OciError(
          'MANIFEST_INVALID',
          `image ${m.descriptor.digest} has ${layers.length} layers but its config lists ${diffIds.length} diff_ids`,
        );
      }
      const ev = { digest: doc.config.digest, mediaType: doc.config.mediaType, total: doc.config.size };
      opts.onProgress?.({ ...ev, complete: 0, status: 'start' });
      await this.put(dir, doc.config.digest, configBytes);
      opts.onProgress?.({ ...ev, complete: doc.config.size, status: 'done' });
      const sizes: number[] = [];
      for (const [i, l] of layers.entries())
        sizes.push(
          await writeUncompressedLayer(artifact.blobs, l, diffIds[i]!, join(dir, blobPath(diffIds[i]!)), opts),
        );
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OciManifest,
          config: { mediaType: MediaTypes.OciConfig, digest: doc.config.digest, size: doc.config.size },
          layers: diffIds.map((d, i) => ({ mediaType: MediaTypes.OciLayer, digest: d, size: sizes[i] })),
        }),
      );
      const descriptor: Descriptor = {
        mediaType: MediaTypes.OciManifest,
        digest: digestOf(manifest),
        size: manifest.length,
      };
      await this.put(dir, descriptor.digest, manifest);
      this.record({ manifest: descriptor, config: doc.config.digest, layers: diffIds, repoTags: [] }, name?.full);
      return descriptor;
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private async put(dir: string, d: Digest, bytes: Buffer): Promise<void> {
    const path = join(dir, blobPath(d));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }

  /** Adds an image (once per manifest) and moves the tag to it. */
  private record(w: Written, tag: string | undefined): void {
    if (tag) for (const x of this.images) x.repoTags = x.repoTags.filter((t) => t !== tag);
    let img = this.images.find((x) => x.manifest.digest === w.manifest.digest);
    if (!img) this.images.push((img = w));
    if (tag) img.repoTags.push(tag);
  }

  /** Writes FILE (when images were written and none failed) and removes the staging directory. */
  async close(): Promise<void> {
    const p = this.staging;
    this.staging = undefined;
    const dir = await p?.catch(() => undefined);
    if (!dir) return;
    try {
      if (this.failed || this.images.length === 0) return;
      const manifests: Descriptor[] = [];
      const repositories: Record<string, Record<string, string>> = {};
      for (const img of this.images) {
        if (img.repoTags.length === 0) manifests.push(img.manifest);
        for (const full of img.repoTags) {
          const { repository, tag } = repoTag(full);
          manifests.push({ ...img.manifest, annotations: { [CONTAINERD_NAME]: full, [REF_NAME]: tag } });
          const top = img.layers[img.layers.length - 1];
          if (top) (repositories[repository] ??= {})[tag] = digestHex(top);
        }
      }
      const manifestJson = this.images.map((img) => ({
        Config: blobPath(img.config),
        RepoTags: img.repoTags.length ? img.repoTags : null,
        Layers: img.layers.map(blobPath),
      }));
      await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      await writeFile(
        join(dir, 'index.json'),
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests }),
      );
      await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifestJson));
      if (Object.keys(repositories).length) await writeFile(join(dir, 'repositories'), JSON.stringify(repositories));
      await tarDirectory(dir, this.file, {
        first: ['oci-layout', 'index.json', 'manifest.json', 'repositories'],
        compression: this.options.compression,
      });
    } finally {
      this.failed = false;
      this.images.length = 0;
      await removeTemp(dir);
    }
  }
}
