/** The server side of the library (`ocikura/server`): configuration in, a running registry out. */
export { startServer, splitListen, type RunningServer, type LaunchOptions } from './start.js';
export { createServer, embeddedConfig, type ServerOptions } from './create.js';
export { openRegistry, registryOptions, SERVER_FILE, DataDirInUseError, type OpenedRegistry } from './open.js';
export { openBlobStore, openMetadataStore, type BlobDriver, type MetadataDriver } from './stores.js';
export { authFromConfig } from './auth.js';
export { Registry, type RegistryOptions } from '../registry/registry.js';
export type * from '../metadata/types.js';
export type { BlobStore, ByteRange } from '../storage/types.js';
export { StorageNotFoundError } from '../storage/types.js';
export { withChecks } from '../storage/checks.js';
export { MemoryBlobStore } from '../storage/memory.js';
export { FsBlobStore } from '../storage/fs.js';
export { MemoryMetadataStore } from '../metadata/memory/index.js';
export { SqliteMetadataStore } from '../metadata/sqlite/index.js';
export { serveConfigSchema, type ServeConfig, type ServeConfigInput } from '../config/schema.js';
export { loadServeConfig, configKeys, ConfigError } from '../config/load.js';
export { buildApp } from '../http/app.js';
