import { mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import { SqliteMetadataStore } from '../metadata/sqlite.js';
import { Registry } from '../registry/registry.js';
import { FsBlobStore } from '../storage/fs.js';
import { buildApp } from './app.js';

export interface RunningServer {
  app: FastifyInstance;
  registry: Registry;
  /** http://host:port actually bound. */
  url: string;
  host: string;
  port: number;
  dataDir: string;
  /** Stops accepting, lets in-flight requests finish (up to the configured timeout), closes stores. */
  close(): Promise<void>;
}

export function splitListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`invalid listen address "${listen}" (use HOST:PORT, e.g. 127.0.0.1:5000)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

export interface EmbeddedRegistry {
  registry: Registry;
  meta: SqliteMetadataStore;
  blobs: FsBlobStore;
  dataDir: string;
}

/**
 * Opens the embedded default (filesystem blobs + SQLite metadata under `data`) for this process
 * alone: `kura serve`, or an offline `kura gc` while no server runs on that directory.
 */
export function openEmbeddedRegistry(config: ServeConfig): EmbeddedRegistry {
  const dataDir = resolve(config.data);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let meta: SqliteMetadataStore;
  try {
    meta = SqliteMetadataStore.open(join(dataDir, 'kura.db'), { exclusive: true });
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      throw new Error(`${dataDir} is in use by another kura process; stop it or choose another --data directory`);
    }
    throw e;
  }
  const blobs = new FsBlobStore(dataDir);
  const registry = new Registry(blobs, meta, {
    deleteEnabled: config.delete.enabled,
    manifestMaxBytes: config.limits.manifestMaxBytes,
    blobMaxBytes: config.limits.blobMaxBytes,
    tagsPerPush: config.limits.tagsPerPush,
    pageMax: config.limits.pageMax,
    // The SQLite store is opened exclusively, so this process sees every write.
    cacheLookups: true,
    gcGraceMs: config.gc.grace,
  });
  return { registry, meta, blobs, dataDir };
}

/** Starts `kura serve` on the embedded default: filesystem blobs + SQLite metadata under `data`. */
export async function startServer(config: ServeConfig): Promise<RunningServer> {
  const { registry, meta, blobs, dataDir } = openEmbeddedRegistry(config);
  const app = buildApp({
    registry,
    logLevel: config.log.level,
    ready: async () => {
      await meta.listRepositories({ n: 1 });
    },
  });
  // Leftovers of a crash: put() staging files, upload bytes no session owns, stale sessions.
  await blobs.sweepTemp(60_000);
  await registry.purgeUploads(config.uploads.purgeAfter);
  const purge = setInterval(() => {
    registry.purgeUploads(config.uploads.purgeAfter).catch((e) => app.log.error({ err: e }, 'upload purge failed'));
  }, Math.max(config.uploads.purgeInterval, 1000));
  purge.unref();
  let gcRun: Promise<void> | null = null;
  const gc =
    config.gc.interval > 0
      ? setInterval(() => {
          gcRun ??= registry
            .collectGarbage({ uploadsOlderThanMs: config.uploads.purgeAfter })
            .then(
              (r) => app.log.info({ blobs: r.blobs.length, bytes: r.bytes, swept: r.swept, uploadsPurged: r.uploadsPurged }, 'garbage collection'),
              (e) => app.log.error({ err: e }, 'garbage collection failed'),
            )
            .finally(() => (gcRun = null));
        }, config.gc.interval)
      : null;
  gc?.unref();

  const { host, port } = splitListen(config.listen);
  await app.listen({ host, port });
  const addr = app.server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    app,
    registry,
    url: `http://${hostForUrl}:${boundPort}`,
    host,
    port: boundPort,
    dataDir,
    close() {
      closing ??= (async () => {
        clearInterval(purge);
        if (gc) clearInterval(gc);
        const timer = setTimeout(() => app.server.closeAllConnections(), config.shutdown.timeout);
        timer.unref();
        await app.close();
        clearTimeout(timer);
        // A collection in progress finishes its sweep before the store closes.
        await gcRun;
        await registry.close();
      })();
      return closing;
    },
  };
}
