// The image an analysis command works on: the oci/image.ts view of the image a location names, config loaded.
import type { Artifact, Descriptor, Platform } from '../oci/artifact.js';
import type { ImageConfig } from '../oci/config.js';
import {
  checkImagePlatform,
  defaultPlatform,
  imageForPlatform,
  openImage,
  type Image,
  type Layer,
} from '../oci/image.js';

/**
 * One image of what a location named: the root (image or index), the index entry that led to the
 * image (with its platform, when the root is an index), and the image's view with its config and
 * layers loaded (so that reports read them without awaiting).
 */
export interface ResolvedImage {
  root: Artifact;
  entry?: Descriptor;
  image: Image;
  config: ImageConfig;
  /** Bottom first; `uncompressed()` gives the verified tar stream of each. */
  layers: Layer[];
}

/**
 * The image to inspect, export or analyse: an image manifest as it is, or from an index the entry
 * for `want` (default: this machine's platform), like docker pull. Its config is read and checked.
 */
export async function resolveImage(root: Artifact, want?: Platform): Promise<ResolvedImage> {
  const { image: a, entry } = await imageForPlatform(root, want ?? defaultPlatform());
  const image = openImage(a);
  const config = await image.config();
  if (want && !entry) {
    checkImagePlatform(a, want, {
      os: config.os,
      architecture: config.architecture,
      ...(config.variant ? { variant: config.variant } : {}),
    });
  }
  return { root, ...(entry ? { entry } : {}), image, config, layers: await image.layers() };
}
