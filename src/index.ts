/**
 * ocikura: the image model and the transports as a typed library (no server code; loads fast).
 * More under subpaths: `ocikura/server` (registry, stores, configuration, HTTP), `ocikura/analysis`,
 * `ocikura/sbom`, `ocikura/signing` and `ocikura/testing` (conformance suites, in-memory fixtures).
 */
export * from './oci/digest.js';
export * from './oci/errors.js';
export * from './oci/manifest.js';
export * from './oci/mediatypes.js';
export * from './oci/names.js';
export * from './oci/imageref.js';
export * from './oci/artifact.js';
export * from './oci/platform.js';
export * from './oci/config.js';
export * from './oci/compression.js';
export * from './oci/verify.js';
export * from './oci/random.js';
export * from './oci/blob.js';
export * from './oci/manifest-info.js';
export * from './oci/tree.js';
export * from './oci/recompress.js';
export * from './oci/image.js';
export * from './oci/mutate.js';
export * from './oci/validate.js';
export * from './transports/archive/index.js';
export * from './transports/layout/index.js';
export * from './transports/local-store/index.js';
export * from './transports/registry/index.js';
export {
  openLocation,
  parseLocation,
  readImage,
  writeImage,
  splitPathRef,
  splitArchiveRef,
} from './transports/locations.js';
export type { Location, LocationOptions, ParsedLocation, Transport } from './transports/locations.js';
export { copyImage, type CopyImageOptions } from './transports/copy-image.js';
export { copyRepository, type CopyRepositoryOptions } from './transports/copy-repository.js';
export { removeLiveTemps } from './oci/temps.js';
export type { BlobStore, ByteRange } from './storage/types.js';
