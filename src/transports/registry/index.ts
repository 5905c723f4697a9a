/** The registry client: a distribution-spec registry as a Source and Sink; auth, retries, mirrors, credentials. */
export { RegistryClient, USER_AGENT, type RegistryClientOptions, type CredentialResolver } from './client.js';
export { RegistryRepository, blobOrigin, ACCEPT } from './repository.js';
export type { BlobOrigin, RegistryAccess, RegistryWriteOptions, HeadResult } from './repository.js';
export type { CallOptions, TagPage, TagPageOptions } from './repository.js';
export type { DeleteOptions } from './delete.js';
export {
  RegistryResponseError,
  RegistryTimeoutError,
  libraryFix,
  fixWith,
  hintedError,
  type RegistryHint,
  type RegistryErrorInfo,
  type FixWording,
} from './errors.js';
export { DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_THRESHOLD, type Chunking } from './upload.js';
export { Endpoint, type EndpointInit } from './endpoint.js';
export { scopes, parseWwwAuthenticate, UnauthorizedError, type AuthNeed, type Challenge } from './auth.js';
export {
  bodyText,
  discard,
  headerValue,
  RegistryNetworkError,
  DEFAULT_IDLE_TIMEOUT_MS,
  type HttpResponse,
} from './http.js';
export { RETRY_DEFAULTS, retryAfterMs, type RetryOptions } from './retry.js';
export { loadMirrors, parseMirror, daemonJsonPath } from './mirrors.js';
export { Keychain, credentialKey, normalizeServerKey, dockerConfigPath, authFiles } from './credentials.js';
export type { Credentials, KeychainOptions } from './credentials.js';
export { storeCredentials, eraseCredentials, type CredentialStoreOptions } from './credentials-store.js';
