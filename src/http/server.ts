import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { resolve, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import { SqliteMetadataStore } from '../metadata/sqlite/index.js';
import { Registry } from '../registry/registry.js';
import { FsBlobStore } from '../storage/fs.js';
import type { AccountSource } from '../auth/authenticator.js';
import { buildApp, TLS_OPTIONS } from './app.js';
import type { AuthConfig } from './auth.js';

export interface RunningServer {
  app: FastifyInstance;
  registry: Registry;
  /** http://host:port actually bound. */
  url: string;
  host: string;
  port: number;
  dataDir: string;
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

/** Authentication from the config; null when neither htpasswd nor the token service is configured. */
export async function authFromConfig(config: ServeConfig, dataDir: string, accounts: AccountSource | null = null): Promise<AuthConfig | null> {
  const a = config.auth;
  if (!a.htpasswd && !a.token.enabled && !a.accounts) return null;
  // Loaded only with authentication on: jose and bcrypt cost ~14 MB of RSS an open registry never uses.
  const [{ AccessPolicy }, { Authenticator }, { Htpasswd }, { TokenService }] = await Promise.all([
    import('../auth/access.js'),
    import('../auth/authenticator.js'),
    import('../auth/htpasswd.js'),
    import('../auth/tokens.js'),
  ]);
  const htpasswd = a.htpasswd ? new Htpasswd(resolve(a.htpasswd)) : null;
  const tokens = a.token.enabled
    ? await TokenService.open(join(dataDir, 'auth', 'token-key.json'), {
        issuer: 'kura',
        service: a.token.service,
        expirySeconds: Math.max(1, Math.round(a.token.expiry / 1000)),
        rotateAfterMs: a.token.rotate > 0 ? a.token.rotate : undefined,
        trust: a.token.trust.map((t) => {
          if (!t.publicKeyFile === !t.jwksFile) throw new Error(`auth.token.trust for ${t.issuer}: give either publicKeyFile or jwksFile`);
          return {
            issuer: t.issuer,
            algorithm: t.algorithm,
            publicKeyPem: t.publicKeyFile ? readFileSync(t.publicKeyFile, 'utf8') : undefined,
            jwks: t.jwksFile ? (JSON.parse(readFileSync(t.jwksFile, 'utf8')) as { keys: [] }) : undefined,
          };
        }),
      })
    : null;
  const { FailureThrottle } = await import('../auth/throttle.js');
  const throttle = new FailureThrottle({ failures: a.lockout.failures, windowMs: a.lockout.window, maxLockMs: a.lockout.max });
  return { authenticator: new Authenticator(htpasswd, accounts, new AccessPolicy(a.rules, a.anonymous, a.admins)), tokens, realm: a.token.realm, throttle };
}

/** A background task every `intervalMs` (0 = never), one run at a time; `running` settles when idle. */
function every(intervalMs: number, task: () => Promise<void>, onError: (e: unknown) => void) {
  let running: Promise<void> | null = null;
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          running ??= task()
            .catch(onError)
            .finally(() => (running = null));
        }, Math.max(intervalMs, 10))
      : null;
  timer?.unref();
  return {
    cancel: () => timer && clearInterval(timer),
    get running() {
      return running;
    },
  };
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

/** The data directory's SQLite store is held by another process (a running `kura serve`). */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string) {
    super(`${dataDir} is in use by another kura process; stop it or choose another --data directory`);
  }
}

/** Where a running server leaves its URL in its data directory, for admin commands on the same machine. */
export const SERVER_FILE = 'server.json';

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
    if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir);
    throw e;
  }
  const blobs = new FsBlobStore(dataDir);
  const registry = new Registry(blobs, meta, {
    deleteEnabled: config.delete.enabled,
    manifestMaxBytes: config.limits.manifestMaxBytes,
    blobMaxBytes: config.limits.blobMaxBytes,
    tagsPerPush: config.limits.tagsPerPush,
    pageMax: config.limits.pageMax,
    uploadsPerCaller: config.limits.uploadsPerCaller,
    automaticMount: config.uploads.automaticMount,
    // The SQLite store is opened exclusively, so this process sees every write.
    cacheLookups: true,
    gcGraceMs: config.gc.grace,
    immutability: config.immutability,
    quotas: config.quotas.map((q) => ({ repositories: q.repositories, namespaces: q.namespaces, limitBytes: q.limit })),
    retention: {
      rules: config.retention.rules,
      ecr: config.retention.ecr.map((e) => ({ repositories: e.repositories, policy: e.policy! })),
    },
  });
  return { registry, meta, blobs, dataDir };
}

/** Starts `kura serve` on the embedded default: filesystem blobs + SQLite metadata under `data`. */
export async function startServer(config: ServeConfig): Promise<RunningServer> {
  const { registry, meta, blobs, dataDir } = openEmbeddedRegistry(config);
  const tls = readTls(config);
  const app = buildApp({
    registry,
    auth: await authFromConfig(config, dataDir, { get: (name) => meta.accounts.get(name) }),
    tls,
    audit: config.audit,
    rateLimits: config.rateLimits.map((r) => ({ action: r.action, limit: r.limit, windowMs: r.window, per: r.per })),
    limits: { headersTimeoutMs: config.http.headersTimeout, idleTimeoutMs: config.http.idleTimeout, maxHeaderBytes: config.http.maxHeaderBytes },
    sendfile: config.http.sendfile,
    cors: { origins: config.http.cors.origins, credentials: config.http.cors.credentials, maxAgeSeconds: Math.round(config.http.cors.maxAge / 1000) },
    logLevel: config.log.level,
    ready: async () => {
      await meta.manifests.listRepositories({ n: 1 });
    },
  });
  // Leftovers of a crash: put() staging files, upload bytes no session owns, stale sessions.
  await blobs.sweepTemp(60_000);
  await registry.purgeUploads(config.uploads.purgeAfter);
  const log = (what: string) => (e: unknown) => app.log.error({ err: e }, `${what} failed`);
  const jobs = [
    every(
      config.uploads.purgeInterval,
      async () => {
        await registry.purgeUploads(config.uploads.purgeAfter);
        await registry.meta.audit.purge(Date.now() - config.audit.keep);
      },
      log('upload and audit purge'),
    ),
    every(
      config.gc.interval,
      async () => {
        const r = await registry.collectGarbage({ uploadsOlderThanMs: config.uploads.purgeAfter });
        app.log.info({ blobs: r.blobs.length, bytes: r.bytes, swept: r.swept, unrecorded: r.unrecorded.length, uploadsPurged: r.uploadsPurged }, 'garbage collection');
      },
      log('garbage collection'),
    ),
    // Pulls are counted in memory and written in batches, so a pull costs no write; so is the audit trail.
    every(10_000, () => registry.flushPulls(), log('recording pulls')),
    every(2_000, () => registry.flushAudit(), log('writing the audit log')),
    every(
      config.retention.interval,
      async () => {
        const plan = await registry.planRetention();
        const r = await registry.applyRetention(plan);
        for (const a of plan.actions) app.log.info({ retention: a }, 'retention removed');
        app.log.info({ ...r, repositories: plan.repositories }, 'retention applied');
      },
      log('retention'),
    ),
  ];

  const { host, port } = splitListen(config.listen);
  await app.listen({ host, port });
  const addr = app.server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${hostForUrl}:${boundPort}`;
  // Written whole (temp name, rename) so a reader never sees half of it; gone again on close.
  const serverFile = join(dataDir, SERVER_FILE);
  writeFileSync(`${serverFile}.tmp`, JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 });
  renameSync(`${serverFile}.tmp`, serverFile);
  let closing: Promise<void> | null = null;
  return {
    app,
    registry,
    url,
    host,
    port: boundPort,
    dataDir,
    authenticated: Boolean(config.auth.htpasswd || config.auth.token.enabled || config.auth.accounts),
    reloadTls() {
      if (!tls) return false;
      const fresh = readTls(config)!;
      (app.server as unknown as HttpsServer).setSecureContext({ ...TLS_OPTIONS, cert: fresh.cert, key: fresh.key });
      return true;
    },
    close() {
      closing ??= (async () => {
        for (const job of jobs) job.cancel();
        const timer = setTimeout(() => app.server.closeAllConnections(), config.shutdown.timeout);
        timer.unref();
        await app.close();
        clearTimeout(timer);
        // A collection or retention run in progress finishes before the store closes.
        await Promise.all(jobs.map((job) => job.running));
        await registry.close();
        rmSync(serverFile, { force: true });
      })();
      return closing;
    },
  };
}
