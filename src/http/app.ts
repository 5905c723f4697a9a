import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Registry } from '../registry/registry.js';
import { installAuth, type AuthConfig } from './auth.js';
import { installAudit } from './audit.js';
import { sendError } from './errors.js';
import { installRateLimits, type RateLimit } from './ratelimit.js';
import { V2Handlers } from './v2.js';

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
  /** Connection limits against slow clients and oversized headers. */
  limits?: { headersTimeoutMs: number; idleTimeoutMs: number; maxHeaderBytes: number };
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
    ...((opts.tls ? { https: { ...serverOptions, cert: opts.tls.cert, key: opts.tls.key } } : { http: serverOptions }) as object),
    // Idle sockets are closed (slow-loris on bodies); a whole upload may take as long as it needs.
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    requestTimeout: 0,
    logger: opts.logLevel === 'silent' ? false : { level: opts.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    exposeHeadRoutes: false,
    routerOptions: { maxParamLength: 4096 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  installAuth(app, opts.auth ?? null);
  // After authentication, so a signed-in caller is limited by name rather than by address.
  installRateLimits(app, opts.rateLimits ?? []);
  if (opts.tls) {
    app.addHook('onSend', (_req, reply, payload, done) => {
      reply.header('strict-transport-security', 'max-age=31536000');
      done(null, payload);
    });
  }
  app.setErrorHandler((err, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).header('content-type', 'application/json').send({
      errors: [{ code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`, detail: {} }],
    });
  });
  if (['trace', 'debug', 'info'].includes(opts.logLevel)) {
    // One JSON line per request, with its id (fastify's own pair of lines per request is off).
    app.addHook('onResponse', (req, reply, done) => {
      req.log.info(
        { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, remote: req.ip },
        'request',
      );
      done();
    });
  }

  const v2 = new V2Handlers(opts.registry, opts.registry.options.tagsPerPush);
  const methods = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'] as const;
  app.route({ method: ['GET', 'HEAD'], url: '/v2/', handler: (req, reply) => v2.base(req, reply) });
  app.route({ method: ['GET', 'HEAD'], url: '/v2', handler: (req, reply) => v2.base(req, reply) });
  app.route({ method: ['GET'], url: '/v2/_catalog', handler: (req, reply) => v2.catalog(req, reply) });
  app.route({ method: [...methods], url: '/v2/*', handler: (req, reply) => v2.dispatch(req, reply) });

  if (opts.audit?.enabled ?? true) installAudit(app, opts.registry, { pulls: opts.audit?.pulls ?? true });

  // Admin API (read-only for now): storage usage per repository and namespace, and the audit trail.
  app.get('/admin/v1/audit', async (req, reply) => {
    const q = new URLSearchParams((req.raw.url ?? '').split('?')[1] ?? '');
    const num = (k: string, d: number) => (q.has(k) && /^\d+$/.test(q.get(k)!) ? Number(q.get(k)) : d);
    const events = await opts.registry.listAudit({
      since: num('since', 0),
      actor: q.get('actor') ?? undefined,
      repository: q.get('repository') ?? undefined,
      limit: Math.min(num('limit', 100), 10_000),
    });
    return reply.header('content-type', 'application/json').send({ events });
  });
  app.get('/admin/v1/usage', async (_req, reply) => reply.header('content-type', 'application/json').send(await opts.registry.usageReport()));

  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await opts.ready?.();
      return { status: 'ok' };
    } catch (e) {
      return reply.code(503).send({ status: 'unavailable', reason: (e as Error).message });
    }
  });
  return app;
}
