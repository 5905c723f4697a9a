import type { Readable } from 'node:stream';
import type { Artifact, Descriptor } from './artifact.js';
import { openVerified, readSmallBlob } from './blob.js';
import { decompress, mediaTypeCompression } from './compression.js';
import { historyWithLayers, parseImageConfig } from './config.js';
import { digestAlgorithm, digestOf, finishDigest, newHasher } from './digest.js';
import { OciError } from './errors.js';
import { configPlatform, isIndex, openImage, openIndex } from './image.js';
import { MediaTypes, isImageManifestMediaType, isIndexMediaType } from './mediatypes.js';
import { formatPlatform, isAttestationPlatform, platformMatches } from './platform.js';

export interface ValidateOptions {
  /** Decompress every layer and check its diff_id (default true); false checks compressed bytes only. */
  layers?: boolean;
}

/** Runs `f`, prefixing any error's message with `where` (an OciError keeps its code). */
async function at<T>(where: string, f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const code = e instanceof OciError ? e.code : 'MANIFEST_INVALID';
    throw new OciError(code, `${where}: ${(e as Error).message}`);
  }
}

async function drain(s: Readable): Promise<void> {
  for await (const _ of s);
}

const IMAGE_CONFIGS: string[] = [MediaTypes.OciConfig, MediaTypes.DockerConfig];

/**
 * Checks an artifact the way go-containerregistry's validate.Image does: manifest bytes against the
 * descriptor, JSON shape and media types, then for an image its config, diff_ids, history and every
 * layer (compressed bytes, and the uncompressed digest unless `layers: false`); for an index every
 * child, recursively, and that each child's config states the platform its entry claims.
 * Throws an OciError naming the first thing wrong.
 */
export async function validateArtifact(a: Artifact, opts: ValidateOptions = {}): Promise<void> {
  await validate(a, opts, a.descriptor.digest);
}

async function validate(a: Artifact, opts: ValidateOptions, where: string): Promise<void> {
  const d = a.descriptor;
  const got = digestOf(a.manifest, digestAlgorithm(d.digest));
  if (got !== d.digest)
    throw new OciError('DIGEST_INVALID', `${where}: the manifest bytes hash to ${got}, not ${d.digest}`);
  if (a.manifest.length !== d.size)
    throw new OciError(
      'SIZE_INVALID',
      `${where}: the manifest is ${a.manifest.length} bytes, its descriptor says ${d.size}`,
    );
  if (!isImageManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) {
    throw new OciError(
      'MANIFEST_INVALID',
      `${where}: media type "${d.mediaType}" is neither an image manifest nor an index`,
    );
  }
  if (isIndex(a)) await validateIndex(a, opts, where);
  else await validateImage(a, opts, where);
}

async function validateImage(a: Artifact, opts: ValidateOptions, where: string): Promise<void> {
  const img = await at(where, () => openImage(a));
  const m = img.manifest;
  const docker = a.descriptor.mediaType === MediaTypes.DockerManifest;
  if (docker && m.config.mediaType !== MediaTypes.DockerConfig) {
    throw new OciError(
      'MANIFEST_INVALID',
      `${where}: a Docker manifest's config must be ${MediaTypes.DockerConfig}, not ${m.config.mediaType}`,
    );
  }
  if (!IMAGE_CONFIGS.includes(m.config.mediaType)) {
    // An artifact (signature, SBOM, …): its blobs are opaque; check their bytes only.
    await at(`${where} config`, async () => drain(await openVerified(a.blobs, m.config)));
    for (const [i, l] of m.layers.entries())
      await at(`${where} layer ${i} (${l.digest})`, async () => drain(await openVerified(a.blobs, l)));
    return;
  }
  const config = await at(`${where} config ${m.config.digest}`, async () =>
    parseImageConfig(await readSmallBlob(a.blobs, m.config)),
  );
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== m.layers.length) {
    throw new OciError(
      'MANIFEST_INVALID',
      `${where}: the config has ${diffIds.length} rootfs.diff_ids but the manifest has ${m.layers.length} layers`,
    );
  }
  if (config.history !== undefined) {
    const made = historyWithLayers(config).filter((h) => h.layer !== undefined).length;
    if (made !== m.layers.length) {
      throw new OciError(
        'MANIFEST_INVALID',
        `${where}: the config's history has ${made} entries that made a layer (not empty_layer) but the manifest ` +
          `has ${m.layers.length} layers`,
      );
    }
  }
  for (const [i, l] of m.layers.entries()) {
    if (l.urls?.length) continue; // foreign layers live elsewhere; registries do not hold them either
    await at(`${where} layer ${i} (${l.digest})`, () => checkLayer(a, l, diffIds[i]!, opts));
  }
}

async function checkLayer(a: Artifact, l: Descriptor, diffId: string, opts: ValidateOptions): Promise<void> {
  if (opts.layers === false) return drain(await openVerified(a.blobs, l));
  try {
    await checkUncompressed(a, l, diffId);
  } catch (e) {
    // Corrupt bytes can break the decompressor before the digest check ends the stream: name the cause.
    if (!(e instanceof OciError)) await drain(await openVerified(a.blobs, l));
    throw e;
  }
}

async function checkUncompressed(a: Artifact, l: Descriptor, diffId: string): Promise<void> {
  const { stream, compression } = await decompress(await openVerified(a.blobs, l));
  const declared = mediaTypeCompression(l.mediaType);
  if (declared !== undefined && declared !== compression) {
    stream.destroy();
    throw new OciError(
      'MANIFEST_INVALID',
      `the blob is ${compression === 'none' ? 'not compressed' : compression} but its media type ${l.mediaType} ` +
        `says ${declared}`,
    );
  }
  const hash = newHasher('sha256');
  for await (const c of stream) hash.update(c as Buffer);
  const got = finishDigest('sha256', hash);
  if (got !== diffId)
    throw new OciError(
      'DIGEST_INVALID',
      `the uncompressed layer hashes to ${got} but the config's rootfs.diff_ids says ${diffId}`,
    );
}

async function validateIndex(a: Artifact, opts: ValidateOptions, where: string): Promise<void> {
  const idx = await at(where, () => openIndex(a));
  for (const [i, d] of idx.manifests.entries()) {
    const w = `${where} manifests[${i}] ${d.digest}`;
    if (!isImageManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) {
      await at(w, async () => drain(await openVerified(a.blobs, d)));
      continue;
    }
    const child = await at(w, () => idx.child(d));
    await validate(child, opts, w);
    if (!d.platform || isAttestationPlatform(d.platform) || isIndex(child)) continue;
    const have = configPlatform(await openImage(child).config());
    if (!platformMatches(d.platform, have)) {
      throw new OciError(
        'MANIFEST_INVALID',
        `${w}: the index says ${formatPlatform(d.platform)} but the image's config says ${formatPlatform(have)}`,
      );
    }
  }
}
