/**
 * `createServer`: the registry embedded in a program (ocikura/server), on stores the caller hands over or the
 * configured drivers, with what `kura serve` has (authentication, jobs, flushes, TLS), started as `startServer` is.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { serveConfigSchema, type ServeConfig, type ServeConfigInput } from '../config/schema.js';
import type { MetadataStore } from '../metadata/types.js';
import type { BlobStore } from '../storage/types.js';
import { metricsFor, registryOver } from './open.js';
import { launch, type LaunchOptions, type RunningServer } from './start.js';

export interface ServerOptions {
  /**
   * The configuration, as a kura.yml holds it (durations like "10m", sizes like "4MiB"); the rest takes
   * `kura serve`'s defaults, except four: `listen` 127.0.0.1:0 (a free loopback port: read `url`), `log.level`
   * warn, and the `storage` and `metadata` drivers `memory`.
   */
  config?: ServeConfigInput;
  /** A configuration already parsed (`loadServeConfig`, `serveConfigSchema.parse`): taken as it is. */
  loaded?: ServeConfig;
  /** The blob store to serve, instead of the configured driver; `close()` closes it. */
  blobs?: BlobStore;
  /** The metadata store to serve, instead of the configured driver; `close()` closes it. */
  meta?: MetadataStore;
  /** The server's clock (see LaunchOptions.now): Date.now unless given. Given stores keep their own. */
  now?: () => number;
}

/** The configuration of an embedded server: createServer's four defaults under the caller's values. */
export function embeddedConfig(input: ServeConfigInput = {}): ServeConfig {
  return serveConfigSchema.parse({
    listen: '127.0.0.1:0',
    ...input,
    log: { level: 'warn', ...input.log },
    storage: { driver: 'memory', ...input.storage },
    metadata: { driver: 'memory', ...input.metadata },
  });
}

/**
 * Starts a registry in this process and resolves once it listens. With no options it is an in-memory
 * registry on a free loopback port (`(await createServer()).url`). The server assumes it is the only
 * writer of its stores. A data directory (`data`) is used only when a configured driver needs one (fs,
 * sqlite), when `data` is given, or for the token service's key; nothing is written to disk otherwise.
 */
export async function createServer(opts: ServerOptions = {}): Promise<RunningServer> {
  if (opts.config && opts.loaded) throw new Error('createServer takes config or loaded, not both');
  const config = opts.loaded ?? embeddedConfig(opts.config);
  const driverNeedsDir =
    (!opts.meta && config.metadata.driver !== 'memory') || (!opts.blobs && config.storage.driver !== 'memory');
  const wantsDir = driverNeedsDir || opts.loaded !== undefined || opts.config?.data !== undefined;
  const dataDir = wantsDir ? resolve(config.data) : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const given = { blobs: opts.blobs, meta: opts.meta };
  const launchOpts: LaunchOptions = { now: opts.now };
  return launch(config, await registryOver(config, dataDir, given, await metricsFor(config), opts.now), launchOpts);
}
