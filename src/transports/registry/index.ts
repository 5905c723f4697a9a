/** The registry client: a distribution-spec registry as a Source and Sink, with auth, retries, mirrors and credentials. */
export { RegistryClient, USER_AGENT, type RegistryClientOptions, type CredentialResolver } from './client.js';
export { RegistryRepository, blobOrigin, ACCEPT, type BlobOrigin, type RegistryAccess, type RegistryWriteOptions, type HeadResult } from './repository.js';
export { DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_THRESHOLD, type Chunking } from './upload.js';
export { Endpoint, type EndpointInit } from './endpoint.js';
export { scopes, parseWwwAuthenticate, UnauthorizedError, type AuthNeed, type Challenge } from './auth.js';
export { bodyText, discard, headerValue, RegistryNetworkError, type HttpResponse } from './http.js';
export { RETRY_DEFAULTS, retryAfterMs, type RetryOptions } from './retry.js';
export { loadMirrors, parseMirror, daemonJsonPath } from './mirrors.js';
export { Keychain, credentialKey, normalizeServerKey, dockerConfigPath, authFiles, type Credentials, type KeychainOptions } from './credentials.js';
export { storeCredentials, eraseCredentials, type CredentialStoreOptions } from './credentials-store.js';
