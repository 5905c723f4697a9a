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
export * from './oci/imagemanifest.js';
export * from './oci/image.js';
export * from './oci/mutate.js';
export * from './oci/validate.js';
export { OciArchive } from './transports/oci-archive.js';
export { DockerArchive, type ArchiveImage } from './transports/docker-archive.js';
export { DockerArchiveWriter, type DockerArchiveWriterOptions } from './transports/docker-archive-writer.js';
export { TarIndex, ArchiveError, type TarEntry } from './transports/tar-index.js';
export { OciLayout } from './transports/oci-layout.js';
export {
  LocalStore,
  defaultStoreDir,
  type LocalStoreOptions,
  type WriteImageOptions,
  type WriteImageResult,
  type ImageRecord,
  type DiskUsage,
  type PruneOptions,
  type PrunePlan,
} from './transports/local-store.js';
export { IndexCacheDir } from './transports/local-store-index.js';
export { RegistryClient, USER_AGENT, type RegistryClientOptions, type CredentialResolver } from './transports/registry.js';
export {
  RegistryRepository,
  blobOrigin,
  ACCEPT,
  type BlobOrigin,
  type RegistryWriteOptions,
  type HeadResult,
} from './transports/registry-repo.js';
export { parseWwwAuthenticate, UnauthorizedError, type Challenge } from './transports/registry-auth.js';
export { RegistryNetworkError } from './transports/registry-http.js';
export { type RetryOptions, RETRY_DEFAULTS, retryAfterMs } from './transports/retry.js';
export {
  Keychain,
  credentialKey,
  normalizeServerKey,
  dockerConfigPath,
  authFiles,
  type Credentials,
  type KeychainOptions,
} from './transports/credentials.js';
export { storeCredentials, eraseCredentials } from './transports/credentials-store.js';
export { loadMirrors, parseMirror, daemonJsonPath } from './transports/mirrors.js';
export type { BlobStore, ByteRange } from './storage/types.js';
