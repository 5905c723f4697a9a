/**
 * Opens a Registry from the configuration, for `kura serve` and for the offline commands (`kura gc`,
 * `fsck`, `usage`, `policy`, `user`, `audit`), which need the stores but not the HTTP layer.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { serveConfigSchema, type ServeConfig } from '../config/schema.js';
import type { MetadataStore } from '../metadata/types.js';
import { Registry, type RegistryOptions } from '../registry/registry.js';
import { withChecks } from '../storage/checks.js';
import type { BlobStore } from '../storage/types.js';
import { recorderFor } from './events.js';
import type { ServerMetrics } from './metrics.js';
import { openBlobStore, openMetadataStore, type OpenedBlobStore } from './stores.js';

export { DataDirInUseError } from './stores.js';

/** Where a running server leaves its URL in its data directory, for admin commands on the same machine. */
export const SERVER_FILE = 'server.json';

export interface OpenedRegistry {
  registry: Registry;
  meta: MetadataStore;
  blobs: OpenedBlobStore;
  dataDir: string;
  /** The server's metrics (`metrics.enabled`), whose wrappers are around the stores above. */
  metrics?: ServerMetrics;
  /** The webhook events' recorder (`notifications`), when an endpoint is configured. */
  events?: { listening(port: number): void };
}

/** The metrics of a server whose configuration turns them on (prom-client is loaded only then). */
export async function metricsFor(config: ServeConfig): Promise<ServerMetrics | undefined> {
  if (!config.metrics.enabled) return undefined;
  const { ServerMetrics } = await import('./metrics.js');
  return new ServerMetrics();
}

/** The registry's options from the configuration; without one, the defaults (those of `kura serve`). */
export function registryOptions(config: ServeConfig = serveConfigSchema.parse({})): RegistryOptions {
  return {
    deleteEnabled: config.delete.enabled,
    manifestMaxBytes: config.limits.manifestMaxBytes,
    blobMaxBytes: config.limits.blobMaxBytes,
    tagsPerPush: config.limits.tagsPerPush,
    pageMax: config.limits.pageMax,
    uploadsPerCaller: config.limits.uploadsPerCaller,
    automaticMount: config.uploads.automaticMount,
    // SQLite (opened exclusively) and memory are this process's alone: it sees every write. Not so when
    // replicas share the metadata (metadata.shared, or PostgreSQL): another process's tag move must be seen at once.
    cacheLookups: !config.metadata.shared && config.metadata.driver !== 'postgres',
    sharedMetadata: config.metadata.shared || config.metadata.driver === 'postgres',
    gcGraceMs: config.gc.grace,
    immutability: config.immutability,
    quotas: config.quotas.map((q) => ({ repositories: q.repositories, namespaces: q.namespaces, limitBytes: q.limit })),
    retention: {
      rules: config.retention.rules,
      ecr: config.retention.ecr.map((e) => ({ repositories: e.repositories, policy: e.policy! })),
    },
  };
}

/** Stores a caller hands over instead of the configured drivers; the server owns them from then on (closes them). */
export interface GivenStores {
  blobs?: BlobStore;
  meta?: MetadataStore;
}

/**
 * The stores (each the given one, else the configured driver over `dataDir`) and the Registry over them.
 * `dataDir` may be undefined only when no driver needs a directory.
 */
export async function registryOver(
  config: ServeConfig,
  dataDir: string | undefined,
  given: GivenStores = {},
  metrics?: ServerMetrics,
  now?: () => number,
): Promise<Omit<OpenedRegistry, 'dataDir'> & { dataDir: string | undefined }> {
  const onDisk =
    (!given.meta && config.metadata.driver !== 'memory') || (!given.blobs && config.storage.driver !== 'memory');
  if (onDisk && dataDir === undefined) throw new Error('the configured store drivers need a data directory (data)');
  const dir = dataDir ?? '';
  const settings = { shared: config.metadata.shared, postgres: config.metadata.postgres, now };
  let meta = given.meta ?? (await openMetadataStore(config.metadata.driver, dir, settings));
  const blobs = given.blobs
    ? { store: withChecks(given.blobs) }
    : await openBlobStore(config.storage.driver, dir, config.storage);
  if (metrics) {
    // One wrapper per store interface, here at the root: every caller's operations are timed.
    blobs.store = metrics.blobStore(blobs.store);
    meta = metrics.metadataStore(meta);
    metrics.watchUploads(meta);
    if (config.notifications.endpoints.length > 0) metrics.watchEvents(meta);
  }
  const events = await recorderFor(config);
  const registry = new Registry(blobs.store, meta, { ...registryOptions(config), now, events });
  metrics?.watchGc(registry);
  return { registry, meta, blobs, dataDir, metrics, events };
}

/**
 * Opens the configured stores (by default filesystem blobs + SQLite metadata under `data`) for this
 * process alone: `kura serve`, or an offline `kura gc` while no server runs on that directory.
 */
export async function openRegistry(
  config: ServeConfig,
  metrics?: ServerMetrics,
  now?: () => number,
): Promise<OpenedRegistry> {
  const dataDir = resolve(config.data);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return { ...(await registryOver(config, dataDir, {}, metrics, now)), dataDir };
}
