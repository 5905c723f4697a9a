import type { Readable } from 'node:stream';
import type { Artifact, Descriptor, Platform } from '../oci/artifact.js';
import { decompress, mediaTypeCompression } from '../oci/compression.js';
import { parseImageConfig, type ImageConfig } from '../oci/config.js';
import { OciError } from '../oci/errors.js';
import { checkImagePlatform, defaultPlatform, imageForPlatform } from '../oci/image.js';
import { verifying } from '../oci/verify.js';
import { readSmallBlob } from '../oci/blob.js';

/** One image of what a location named: the root (image or index), the chosen image, and its config. */
export interface ResolvedImage {
  root: Artifact;
  image: Artifact;
  /** The index entry that led to the image (with its platform), when the root is an index. */
  entry?: Descriptor;
  config: ImageConfig;
  configDescriptor: Descriptor;
  configBytes: Buffer;
  layers: Descriptor[];
}

interface ManifestJson {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

function parse(a: Artifact): ManifestJson {
  return JSON.parse(a.manifest.toString('utf8')) as ManifestJson;
}

/**
 * The image to inspect, export or analyse: an image manifest as it is, or from an index the entry
 * for `want` (default: this machine's platform), like docker pull. Its config is read and checked.
 */
export async function resolveImage(root: Artifact, want?: Platform): Promise<ResolvedImage> {
  const { image, entry } = await imageForPlatform(root, want ?? defaultPlatform());
  const m = parse(image);
  if (!m.config) throw new OciError('MANIFEST_INVALID', `${image.descriptor.digest} is not an image manifest (no config)`);
  const configBytes = await readSmallBlob(image.blobs, m.config);
  const config = parseImageConfig(configBytes);
  if (want && !entry) checkImagePlatform(image, want, { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) });
  return { root, image, ...(entry ? { entry } : {}), config, configDescriptor: m.config, configBytes, layers: m.layers ?? [] };
}

/** The platform of a resolved image, from its config. */
export function imagePlatform(r: ResolvedImage): Platform {
  const c = r.config;
  return { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}), ...(c['os.version'] ? { 'os.version': c['os.version'] } : {}) };
}

/** Re-openable uncompressed tar streams of an image's layers, bottom first; each verified against its digest. */
export function layerStreams(r: ResolvedImage): (() => Promise<Readable>)[] {
  return r.layers.map((d, i) => async () => {
    if (mediaTypeCompression(d.mediaType) === undefined && !/\btar\b|rootfs/.test(d.mediaType)) {
      throw new OciError('UNSUPPORTED', `layer ${i} (${d.digest}) has media type ${d.mediaType}, not a filesystem layer`);
    }
    if (d.urls?.length) throw new OciError('UNSUPPORTED', `layer ${i} (${d.digest}) is a foreign layer kept at ${d.urls[0]}; fetch it from there`);
    const src = await r.image.blobs.open(d);
    const v = verifying(d);
    src.on('error', (e) => v.destroy(e));
    return (await decompress(src.pipe(v))).stream;
  });
}
