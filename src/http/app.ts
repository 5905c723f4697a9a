import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { OciError } from '../oci/errors.js';
import { Accounts } from '../registry/accounts.js';
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
  /** Send blob bodies with sendfile(2) when the native helper is built (plain HTTP); default true. */
  sendfile?: boolean;
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

  const v2 = new V2Handlers(opts.registry, opts.registry.options.tagsPerPush, opts.sendfile ?? true);
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

  // Account management for a running server (the CLI's `kura user`/`kura token` need it stopped).
  const accounts = new Accounts(opts.registry.meta);
  const by = (req: FastifyRequest) => ({ actor: req.kuraCaller?.who ?? null, address: req.ip });
  app.get('/admin/v1/accounts', async (_req, reply) => reply.header('content-type', 'application/json').send({ accounts: await accounts.list() }));
  // Changing accounts needs an authenticated admin: on an open registry (no auth) it is refused.
  const requireAuth = () => {
    if (!opts.auth) throw new OciError('DENIED', 'authentication is off: turn it on (auth.accounts, auth.htpasswd) and call this as an admin');
  };
  app.post('/admin/v1/accounts', async (req, reply) => {
    requireAuth();
    const body = (await readJson(req)) as { name?: string; password?: string; kind?: string; repositories?: string[]; actions?: string[]; expiresInSeconds?: number };
    if (body.kind === 'robot') {
      const robot = await accounts.addRobot(
        {
          name: body.name,
          repositories: Array.isArray(body.repositories) ? body.repositories.map(String) : [],
          actions: Array.isArray(body.actions) ? body.actions.map(String) : ['pull'],
          expiresAt: typeof body.expiresInSeconds === 'number' ? Date.now() + body.expiresInSeconds * 1000 : null,
        },
        by(req),
      );
      return reply.code(201).header('cache-control', 'no-store').send({ name: robot.name, password: robot.secret });
    }
    if (typeof body.name !== 'string') throw new OciError('BAD_REQUEST', 'give the new account a "name"');
    const password = await accounts.addUser(body.name, typeof body.password === 'string' ? body.password : undefined, by(req));
    return reply.code(201).header('cache-control', 'no-store').send({ name: body.name, ...(body.password ? {} : { password }) });
  });
  app.delete('/admin/v1/accounts/:name', async (req, reply) => {
    requireAuth();
    await accounts.remove((req.params as { name: string }).name, by(req));
    return reply.code(204).send();
  });

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

/** A small JSON body (admin API), read from the raw request with a 16 KiB cap. */
async function readJson(req: FastifyRequest): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req.raw) {
    total += (c as Buffer).length;
    if (total > 16 * 1024) throw new OciError('SIZE_TOO_LARGE', 'request body over 16 KiB');
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new OciError('BAD_REQUEST', 'the body is not JSON');
  }
}
