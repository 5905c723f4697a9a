/**
 * Opens a Registry from the configuration, for `kura serve` and for the offline commands (`kura gc`,
 * `fsck`, `usage`, `policy`, `user`, `audit`), which need the stores but not the HTTP layer.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ServeConfig } from '../config/schema.js';
import type { MetadataStore } from '../metadata/types.js';
import { Registry, type RegistryOptions } from '../registry/registry.js';
import { openBlobStore, openMetadataStore, type OpenedBlobStore } from './stores.js';

export { DataDirInUseError } from './stores.js';

/** Where a running server leaves its URL in its data directory, for admin commands on the same machine. */
export const SERVER_FILE = 'server.json';

export interface OpenedRegistry {
  registry: Registry;
  meta: MetadataStore;
  blobs: OpenedBlobStore;
  dataDir: string;
}

/** The registry's options from the configuration. */
export function registryOptions(config: ServeConfig): RegistryOptions {
  return {
    deleteEnabled: config.delete.enabled,
    manifestMaxBytes: config.limits.manifestMaxBytes,
    blobMaxBytes: config.limits.blobMaxBytes,
    tagsPerPush: config.limits.tagsPerPush,
    pageMax: config.limits.pageMax,
    uploadsPerCaller: config.limits.uploadsPerCaller,
    automaticMount: config.uploads.automaticMount,
    // Both drivers are this process's alone (SQLite is opened exclusively): it sees every write.
    cacheLookups: true,
    gcGraceMs: config.gc.grace,
    immutability: config.immutability,
    quotas: config.quotas.map((q) => ({ repositories: q.repositories, namespaces: q.namespaces, limitBytes: q.limit })),
    retention: {
      rules: config.retention.rules,
      ecr: config.retention.ecr.map((e) => ({ repositories: e.repositories, policy: e.policy! })),
    },
  };
}

/**
 * Opens the configured stores (by default filesystem blobs + SQLite metadata under `data`) for this
 * process alone: `kura serve`, or an offline `kura gc` while no server runs on that directory.
 */
export async function openRegistry(config: ServeConfig): Promise<OpenedRegistry> {
  const dataDir = resolve(config.data);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const meta = await openMetadataStore(config.metadata.driver, dataDir);
  const blobs = await openBlobStore(config.storage.driver, dataDir);
  const registry = new Registry(blobs.store, meta, registryOptions(config));
  return { registry, meta, blobs, dataDir };
}
