/** `kura serve`: the composition root that builds the stores, the registry, the HTTP app and the jobs. */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { join } from 'node:path';
import { digestOf } from '../oci/digest.js';
import type { FastifyInstance } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import type { MetadataStore } from '../metadata/types.js';
import type { Registry } from '../registry/registry.js';
import type { BlobStore } from '../storage/types.js';
import { buildApp, TLS_OPTIONS } from '../http/app.js';
import type { PullThrough } from '../http/pull-through.js';
import type { Scanning } from '../scan/registry/index.js';
import { installUi } from '../ui/index.js';
import { authFromConfig } from './auth.js';
import { startDelivery } from './events.js';
import { startJobs } from './jobs.js';
import { metricsFor, openRegistry, SERVER_FILE, type OpenedRegistry } from './open.js';

export interface RunningServer {
  app: FastifyInstance;
  registry: Registry;
  /** The stores under the registry, for tests and operators' tools that inspect them directly. */
  stores: { blobs: BlobStore; meta: MetadataStore };
  /** Where Prometheus scrapes this server (`metrics.enabled`): the separate listener's or the main one's /metrics. */
  metricsUrl: string | undefined;
  /** http://host:port actually bound. */
  url: string;
  host: string;
  port: number;
  /** Where the server keeps its files (stores, server.json, the token key); undefined when it keeps none. */
  dataDir: string | undefined;
  /** Whether callers must authenticate (htpasswd or token service configured). */
  authenticated: boolean;
  /** Re-reads the certificate and key (SIGHUP); new connections get them. False when not on TLS. */
  reloadTls(): boolean;
  /** Stops accepting, lets in-flight requests finish (up to the configured timeout), closes stores. */
  close(): Promise<void>;
}

function readTls(config: ServeConfig): { cert: Buffer; key: Buffer } | null {
  const { cert, key } = config.tls;
  if (!cert && !key) return null;
  if (!cert || !key) throw new Error('TLS needs both tls.cert and tls.key (--tls-cert FILE --tls-key FILE)');
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

export function splitListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`invalid listen address "${listen}" (use HOST:PORT, e.g. 127.0.0.1:5000)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

/** What the HTTP app takes from the configuration (all but the registry, authentication and TLS). */
export function appOptions(config: ServeConfig) {
  const { http } = config;
  const { cors } = http;
  return {
    audit: config.audit,
    rateLimits: config.rateLimits.map((r) => ({ action: r.action, limit: r.limit, windowMs: r.window, per: r.per })),
    limits: {
      headersTimeoutMs: http.headersTimeout,
      idleTimeoutMs: http.idleTimeout,
      maxHeaderBytes: http.maxHeaderBytes,
    },
    sendfile: http.sendfile,
    zeroCopy: http.zeroCopy,
    cors: { origins: cors.origins, credentials: cors.credentials, maxAgeSeconds: Math.round(cors.maxAge / 1000) },
    logLevel: config.log.level,
    verify: config.verify.rules,
  };
}

/** What a program (or a test) may set beside the configuration. */
export interface LaunchOptions {
  /**
   * The clock of the registry (leases, grace periods), the SQLite store, the token service, htpasswd and the
   * lockout: Date.now unless given, so a test drives expiry without waiting.
   */
  now?: () => number;
}

/** Starts `kura serve` on the configured stores (by default filesystem blobs + SQLite metadata under `data`). */
export async function startServer(
  config: ServeConfig,
  opts: LaunchOptions = {},
): Promise<RunningServer & { dataDir: string }> {
  const opened = await openRegistry(config, await metricsFor(config), opts.now);
  return (await launch(config, opened, opts)) as RunningServer & { dataDir: string };
}

/**
 * Serves an opened registry: the HTTP app with authentication and TLS, crash leftovers swept, the background
 * jobs started, listening; `server.json` is written to the data directory, if there is one. Shared by
 * `startServer` and `createServer`.
 */
export async function launch(
  config: ServeConfig,
  opened: Omit<OpenedRegistry, 'dataDir'> & { dataDir: string | undefined },
  opts: LaunchOptions = {},
): Promise<RunningServer> {
  const { registry, meta, blobs, dataDir, metrics } = opened;
  const tls = readTls(config);
  // Loaded only when upstreams are configured.
  let pullThrough: PullThrough | undefined;
  try {
    if (config.proxy.upstreams.length > 0) {
      // the native helper, where built, hashes what the cache fetches on the thread pool
      const relay = (await import('../http/sendfile.js')).relayHelper() ?? undefined;
      const cache = await (await import('../proxy/index.js')).openProxy(registry, config.proxy, undefined, relay);
      pullThrough = cache;
      if (cache && metrics) (await import('./proxy-metrics.js')).watchProxy(metrics.registry, () => cache.status());
    }
  } catch (e) {
    await registry.close();
    throw e;
  }
  // Loaded only when scanning is configured (scan.onPush, scan.policy).
  let scanning: Scanning | undefined;
  if (config.scan.onPush || config.scan.policy.length > 0) {
    const { Scanning, defaultDbFile } = await import('../scan/registry/index.js');
    scanning = new Scanning(registry, meta.scans, {
      ...config.scan,
      dbFile: config.scan.db ?? defaultDbFile(),
      recheckMs: config.scan.recheck,
      warn: (msg) => process.stderr.write(`kura: warning: ${msg}\n`),
    });
  }
  const auth = await authFromConfig(config, dataDir, { get: (name) => meta.accounts.get(name) }, opts.now);
  const app = buildApp({
    ...appOptions(config),
    // Replicas sharing PostgreSQL count rate limits there, so a caller gets one budget, not one per replica.
    rateCounters: meta.counters,
    registry,
    auth,
    tls,
    pullThrough,
    scans: scanning,
    ready: async () => {
      await meta.manifests.listRepositories({ n: 1 });
      // The blob store answers too (one HEAD on S3, one stat on disk): a replica cut off from it is not ready.
      await blobs.store.stat(digestOf(''));
    },
  });
  if (config.ui.enabled) {
    const { publicHost } = config.ui;
    installUi(app, { registry, meta, auth, tls: Boolean(tls), publicHost, audit: config.audit.enabled });
  }
  // Leftovers of a crash: put() staging files, upload bytes no session owns, stale sessions.
  await blobs.sweep?.(60_000);
  await registry.purgeUploads(config.uploads.purgeAfter);
  const jobs = startJobs(registry, config, app.log);
  const delivery = await startDelivery(meta, config, app.log, metrics);
  if (delivery) jobs.push(delivery);

  const authenticated = Boolean(config.auth.htpasswd || config.auth.token.enabled || config.auth.accounts);
  // Loaded only when replication rules are configured.
  const replicator =
    config.replication.rules.length > 0
      ? await (await import('./replication.js'))
          .openReplication(app, registry, config, authenticated)
          .catch(async (e) => {
            for (const job of jobs) job.cancel();
            await registry.close();
            throw e;
          })
      : undefined;
  const metricsServer = metrics ? await metrics.serve(app, { listen: config.metrics.listen, authenticated }) : null;
  const { host, port } = splitListen(config.listen);
  await app.listen({ host, port });
  const addr = app.server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  opened.events?.listening(boundPort);
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${hostForUrl}:${boundPort}`;
  // The rules read and write this server's side in-process (auth and TLS do not stand in their way).
  replicator?.start();
  // Written whole (temp name, rename) so a reader never sees half of it; gone again on close.
  const serverFile = dataDir === undefined ? undefined : join(dataDir, SERVER_FILE);
  if (serverFile) {
    writeFileSync(`${serverFile}.tmp`, JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 });
    renameSync(`${serverFile}.tmp`, serverFile);
  }
  let closing: Promise<void> | null = null;
  return {
    app,
    registry,
    stores: { blobs: blobs.store, meta },
    metricsUrl: metricsServer?.url ?? (metrics ? `${url}/metrics` : undefined),
    url,
    host,
    port: boundPort,
    dataDir,
    authenticated,
    reloadTls() {
      if (!tls) return false;
      const fresh = readTls(config)!;
      (app.server as unknown as HttpsServer).setSecureContext({ ...TLS_OPTIONS, cert: fresh.cert, key: fresh.key });
      return true;
    },
    close() {
      closing ??= (async () => {
        for (const job of jobs) job.cancel();
        // Replication runs read from this server: they finish before it stops.
        await replicator?.close();
        const timer = setTimeout(() => app.server.closeAllConnections(), config.shutdown.timeout);
        timer.unref();
        await app.close();
        clearTimeout(timer);
        await metricsServer?.close();
        // A collection or retention run in progress finishes before the store closes.
        await Promise.all(jobs.map((job) => job.running));
        // Blobs the pull-through cache is still storing (their clients may have read them already).
        await pullThrough?.close();
        // A scan in progress finishes before the store closes (a kill leaves it pending: rescanned at start).
        await scanning?.close();
        await registry.close();
        if (serverFile) rmSync(serverFile, { force: true });
      })();
      return closing;
    },
  };
}
