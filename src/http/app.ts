import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { requestScope, type RequestFacts } from '../registry/events.js';
import type { Registry } from '../registry/registry.js';
import { installAuth, type AuthConfig } from './auth.js';
import { installAdmin } from './admin.js';
import { installAudit } from './audit.js';
import { installRouteContext, rewriteTarget } from './context.js';
import { installCors, type CorsOptions } from './cors.js';
import type { RouteFamily } from './target.js';
import { sendError } from './errors.js';
import { installRateLimits, type RateCounters, type RateLimit } from './ratelimit.js';
import { bodyLimit } from './body.js';
import type { PullThrough } from './pull-through.js';
import { chainGates, type ScanHook } from './scan-hook.js';
import { V2Handlers } from './v2.js';
import { loadVerifyRules, PullPolicy, type VerifyRuleConfig } from './verify-rules.js';
import { parseV2Path } from './route.js';

/**
 * TLS 1.2 and 1.3 with forward-secret AEAD suites only (no CBC, no SHA-1 MACs: security audit I6),
 * as Mozilla's "intermediate" profile; TLS 1.3 suites are Node's defaults.
 */
export const TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
} as const;

export interface AppOptions {
  registry: Registry;
  /** pino level, or 'silent'. */
  logLevel: string;
  /** Readiness probe beyond "the process answers" (e.g. a metadata query). */
  ready?: () => Promise<void>;
  /** Authentication and authorization; null or absent: an open registry. */
  auth?: AuthConfig | null;
  /** Certificate and key (PEM): serve HTTPS, with HSTS. */
  tls?: { cert: Buffer; key: Buffer } | null;
  /** The audit trail: off, on, or on without pulls. */
  audit?: { enabled: boolean; pulls: boolean };
  /** Request rate limits per caller. */
  rateLimits?: RateLimit[];
  /** Counters shared by replicas (the metadata store's, on PostgreSQL); absent: rate limits count in memory. */
  rateCounters?: RateCounters;
  /** Connection limits against slow clients and oversized headers. */
  limits?: { headersTimeoutMs: number; idleTimeoutMs: number; maxHeaderBytes: number };
  /** Send blob bodies with sendfile(2) when the native helper is built (plain HTTP); default true. */
  sendfile?: boolean;
  /** With the helper: sendfile(2) itself rather than a copy through a small buffer (`http.zeroCopy`). */
  zeroCopy?: boolean;
  /** Cross-origin access to the registry API for browser UIs; absent: none. */
  cors?: CorsOptions | null;
  /** The pull policy: repositories whose manifests are served only when signed by one of the keys. */
  verify?: VerifyRuleConfig[];
  /** The pull-through cache (`proxy.upstreams`); absent: none. */
  pullThrough?: PullThrough;
  /** Vulnerability scanning (`scan.onPush`, `scan.policy`); absent: none. */
  scans?: ScanHook;
}

function requestFacts(req: FastifyRequest, scheme: string): RequestFacts {
  const host = req.headers.host ?? '';
  return {
    id: req.id,
    addr: `${req.ip}:${req.socket.remotePort ?? 0}`,
    host,
    method: req.method,
    useragent: req.headers['user-agent'] ?? '',
    actor: req.kuraCaller?.who ?? null,
    baseUrl: `${scheme}://${host}`,
  };
}

/**
 * The HTTP face of the registry. Thin: parse, call the Registry, render. Bodies are never parsed by
 * fastify: uploads stream from the raw request into storage, manifests are read capped in v2.ts.
 */
export function buildApp(opts: AppOptions): FastifyInstance {
  const limits = opts.limits ?? { headersTimeoutMs: 30_000, idleTimeoutMs: 120_000, maxHeaderBytes: 16 * 1024 };
  const serverOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    // Node checks the headers timeout only this often (30 s by default).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  };
  // One type for both: fastify's https typing differs only in the raw server, which we never touch here.
  const app = Fastify({
    ...((opts.tls
      ? { https: { ...serverOptions, ...TLS_OPTIONS, cert: opts.tls.cert, key: opts.tls.key } }
      : { http: serverOptions }) as object),
    // Idle sockets are closed (slow-loris on bodies); a whole upload may take as long as it needs.
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    requestTimeout: 0,
    logger: opts.logLevel === 'silent' ? false : { level: opts.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    // One canonical request target, before routing: the router and every hook see the same path.
    rewriteUrl: (req) => rewriteTarget(req),
    exposeHeadRoutes: false,
    routerOptions: { maxParamLength: 4096 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // Expect: 100-continue: no "100 Continue" for a body over the route's limit, so the client never
  // sends it and gets the 413 (v2.ts checks the same limit before reading a byte).
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!oversized(req, opts.registry.limits)) res.writeContinue();
    app.server.emit('request', req, res);
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  const table: RouteEntry[] = [];
  routeTables.set(app, table);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) table.push({ method, url: r.url, family: r.config?.family ?? 'open' });
  });
  installRouteContext(app, { tls: Boolean(opts.tls) });
  installAuth(app, opts.auth ?? null);
  app.addHook('onClose', async () => {
    await opts.auth?.authenticator.close();
  });
  // After authentication, so a signed-in caller is limited by name rather than by address.
  installRateLimits(app, opts.rateLimits ?? [], opts.rateCounters);
  app.setErrorHandler((err, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .header('content-type', 'application/json')
      .send({
        errors: [
          { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`, detail: {} },
        ],
      });
  });
  if (['trace', 'debug', 'info'].includes(opts.logLevel)) {
    // One JSON line per request, with its id (fastify's own pair of lines per request is off).
    app.addHook('onResponse', (req, reply, done) => {
      req.log.info(
        {
          method: req.method,
          url: loggedUrl(req.url),
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          remote: req.ip,
        },
        'request',
      );
      done();
    });
  }

  const rules = opts.verify ?? [];
  const policy = rules.length > 0 ? new PullPolicy(opts.registry, loadVerifyRules(rules)) : undefined;
  if (policy) policies.set(app, policy);
  const v2 = new V2Handlers(
    opts.registry,
    opts.registry.limits.tagsPerPush,
    opts.sendfile === false ? false : opts.zeroCopy ? 'zero-copy' : true,
    Boolean(opts.auth),
    chainGates([policy, opts.scans?.gate]),
    opts.pullThrough,
    opts.scans ? (repo, digest, bytes, type) => opts.scans!.pushed(repo, digest, bytes, type) : undefined,
  );
  const methods = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'] as const;
  const family = { family: 'v2' as const };
  app.route({ method: ['GET', 'HEAD'], url: '/v2/', config: family, handler: (req, reply) => v2.base(req, reply) });
  app.route({ method: ['GET', 'HEAD'], url: '/v2', config: family, handler: (req, reply) => v2.base(req, reply) });
  app.route({ method: ['GET'], url: '/v2/_catalog', config: family, handler: (req, reply) => v2.catalog(req, reply) });
  // The request a change came from, for the webhook events the registry writes (registry/events.ts).
  const scheme = opts.tls ? 'https' : 'http';
  app.route({
    method: [...methods],
    url: '/v2/*',
    config: family,
    handler: (req, reply) => requestScope.run(requestFacts(req, scheme), () => v2.dispatch(req, reply)),
  });

  if (opts.cors) installCors(app, opts.cors);
  if (opts.audit?.enabled ?? true) installAudit(app, opts.registry, { pulls: opts.audit?.pulls ?? true });
  installAdmin(app, opts.registry, {
    authenticated: Boolean(opts.auth),
    reserved: (n) => opts.auth?.authenticator.inHtpasswd(n) ?? false,
    proxyStatus: opts.pullThrough ? () => opts.pullThrough!.status() : undefined,
    scanReport: opts.scans ? (repo, digest) => opts.scans!.report(repo, digest) : undefined,
  });

  const health = { config: { family: 'health' as const } };
  app.get('/livez', health, async () => ({ status: 'ok' }));
  app.get('/readyz', health, async (_req, reply) => {
    try {
      await opts.ready?.();
      return { status: 'ok' };
    } catch (e) {
      return reply.code(503).send({ status: 'unavailable', reason: (e as Error).message });
    }
  });
  return app;
}

/** A body declared over its route's limit (or beyond 2^53), judged from the raw target before routing. */
function oversized(req: IncomingMessage, limits: { blobMaxBytes: number; manifestMaxBytes: number }): boolean {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(declared)) return true;
  const path = (req.url ?? '').split('?')[0]!;
  if (!path.startsWith('/v2/')) return false;
  let route;
  try {
    route = parseV2Path(path.slice(4));
  } catch {
    return false;
  }
  const limit = bodyLimit(req.method ?? '', route, limits);
  return limit > 0 && declared > limit;
}

/** One route of the app, as registered: its method, URL pattern and family. */
export interface RouteEntry {
  method: string;
  url: string;
  family: RouteFamily;
}

const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();
const policies = new WeakMap<FastifyInstance, PullPolicy>();

/** The pull policy of an app built with `verify` rules (tests count its verifications). */
export function pullPolicy(app: FastifyInstance): PullPolicy | undefined {
  return policies.get(app);
}

/** Every route an app built by buildApp serves (the request-target test walks them all). */
export function routeTable(app: FastifyInstance): readonly RouteEntry[] {
  return routeTables.get(app) ?? [];
}

/** Query parameters whose values are logged; any other value (a password a client put there) is not. */
const LOGGED_PARAMS = new Set([
  'n',
  'last',
  'digest',
  'mount',
  'from',
  'tag',
  'artifactType',
  'service',
  'scope',
  'digest-algorithm',
]);

/** The request URL as logged: the path, and the query with unknown parameters' values replaced. */
export function loggedUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const k of new Set(params.keys())) {
    if (!LOGGED_PARAMS.has(k)) params.set(k, '(redacted)');
  }
  return `${url.slice(0, q)}?${params}`;
}
