/** manifest.json of a docker-archive, and OCI manifests synthesised for archives that have none. */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Descriptor } from '../../oci/artifact.js';
import { decompress, type Compression } from '../../oci/compression.js';
import { parseImageConfig } from '../../oci/config.js';
import { digestOf, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { MediaTypes } from '../../oci/mediatypes.js';
import { parseJson } from '../json.js';
import type { TarIndex } from './tar-index.js';

/** One element of a docker-archive's manifest.json. */
export interface ManifestJsonEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers?: string[] | null;
}

/** Parses manifest.json: an array of {Config, RepoTags, Layers}; anything else is refused with the reason. */
export function parseManifestJson(bytes: Buffer, file: string): ManifestJsonEntry[] {
  const doc = parseJson(
    bytes,
    (why) => new OciError('MANIFEST_INVALID', `manifest.json in ${file} is not JSON: ${why}`),
  );
  const bad = (why: string) =>
    new OciError('MANIFEST_INVALID', `manifest.json in ${file} is not a docker-archive manifest: ${why}`);
  if (!Array.isArray(doc)) throw bad('not an array');
  for (const [i, e] of doc.entries()) {
    const x = e as Partial<ManifestJsonEntry>;
    if (typeof x !== 'object' || x === null || typeof x.Config !== 'string')
      throw bad(`entry ${i} has no "Config" path`);
    if (x.Layers != null && (!Array.isArray(x.Layers) || x.Layers.some((l) => typeof l !== 'string')))
      throw bad(`entry ${i}: "Layers" must be a list of paths`);
    if (x.RepoTags != null && (!Array.isArray(x.RepoTags) || x.RepoTags.some((t) => typeof t !== 'string')))
      throw bad(`entry ${i}: "RepoTags" must be a list of names`);
  }
  return doc as ManifestJsonEntry[];
}

/** Hashes an archive file's bytes and, decompressed, its content: one streaming read. */
async function hashLayer(
  tar: TarIndex,
  path: string,
): Promise<{ digest: Digest; diffId: Digest; compression: Compression }> {
  const raw = createHash('sha256');
  const tap = new Transform({
    transform(c: Buffer, _e, cb: TransformCallback) {
      raw.update(c);
      cb(null, c);
    },
  });
  const src = tar.open(path);
  src.on('error', (e) => tap.destroy(e));
  const { stream, compression } = await decompress(src.pipe(tap));
  // An uncompressed layer (the usual legacy `docker save`) is its own content: one hash serves both.
  const plain = compression === 'none' ? undefined : createHash('sha256');
  try {
    for await (const c of stream) plain?.update(c as Buffer);
  } catch (e) {
    throw new OciError(
      'DIGEST_INVALID',
      `layer "${path}" in ${tar.file} does not read or decompress (${(e as Error).message}): the archive is corrupt`,
    );
  }
  const digest = `sha256:${raw.digest('hex')}` as Digest;
  return { digest, diffId: plain ? (`sha256:${plain.digest('hex')}` as Digest) : digest, compression };
}

/**
 * A Docker schema2 manifest for a manifest.json entry whose archive has no OCI manifest for it:
 * config and layer files as they are (digest = sha256 of the file), each layer checked against
 * the config's diff_ids. Returns the manifest and where each blob lives in the archive.
 */
export async function synthesizeManifest(
  tar: TarIndex,
  entry: ManifestJsonEntry,
): Promise<{ manifest: Buffer; paths: Map<Digest, string> }> {
  const configBytes = await tar.read(entry.Config);
  const config = parseImageConfig(configBytes);
  const paths = new Map<Digest, string>();
  const layerPaths = entry.Layers ?? [];
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layerPaths.length) {
    throw new OciError(
      'MANIFEST_INVALID',
      `${tar.file}: manifest.json lists ${layerPaths.length} layers for ${entry.Config} but its config has ` +
        `${diffIds.length} diff_ids: the archive is corrupt`,
    );
  }
  const layers: Descriptor[] = [];
  for (const [i, path] of layerPaths.entries()) {
    const h = await hashLayer(tar, path);
    if (h.diffId !== diffIds[i]) {
      throw new OciError(
        'DIGEST_INVALID',
        `layer "${path}" in ${tar.file} has content ${h.diffId}, but the config says ${diffIds[i]}: the archive is ` +
          `corrupt`,
      );
    }
    const mediaType =
      h.compression === 'gzip'
        ? MediaTypes.DockerLayerGzip
        : h.compression === 'zstd'
          ? MediaTypes.OciLayerZstd
          : MediaTypes.DockerLayer;
    layers.push({ mediaType, digest: h.digest, size: tar.get(path).size });
    paths.set(h.digest, path);
  }
  const configDigest = digestOf(configBytes);
  paths.set(configDigest, entry.Config);
  const zstd = layers.some((l) => l.mediaType === MediaTypes.OciLayerZstd);
  // Docker schema2 has no zstd layer type: such an image is described as OCI.
  const manifest = {
    schemaVersion: 2,
    mediaType: zstd ? MediaTypes.OciManifest : MediaTypes.DockerManifest,
    config: {
      mediaType: zstd ? MediaTypes.OciConfig : MediaTypes.DockerConfig,
      size: configBytes.length,
      digest: configDigest,
    },
    layers: zstd
      ? layers.map((l) => ({
          ...l,
          mediaType:
            l.mediaType === MediaTypes.DockerLayer
              ? MediaTypes.OciLayer
              : l.mediaType === MediaTypes.DockerLayerGzip
                ? MediaTypes.OciLayerGzip
                : l.mediaType,
        }))
      : layers,
  };
  return { manifest: Buffer.from(JSON.stringify(manifest)), paths };
}
