/** The server side of the library (`ocikura/server`): configuration in, a running registry out. */
export { startServer, splitListen, type RunningServer } from './start.js';
export { openRegistry, registryOptions, SERVER_FILE, DataDirInUseError, type OpenedRegistry } from './open.js';
export { openBlobStore, openMetadataStore, type BlobDriver, type MetadataDriver } from './stores.js';
export { authFromConfig } from './auth.js';
