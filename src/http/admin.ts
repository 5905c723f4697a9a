import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { Registry } from '../registry/registry.js';

/** A robot without an expiry in its request gets this one; none may be longer than the maximum. */
const ROBOT_DEFAULT_EXPIRY_S = 90 * 86_400;
const ROBOT_MAX_EXPIRY_S = 10 * 365 * 86_400;

const robotBody = z.strictObject({
  kind: z.literal('robot'),
  name: z.string().optional(),
  repositories: z.array(z.string().min(1).max(256)).min(1).max(100),
  actions: z
    .array(z.enum(['pull', 'push', 'delete', 'admin']))
    .min(1)
    .default(['pull']),
  expiresInSeconds: z.number().int().min(1).max(ROBOT_MAX_EXPIRY_S).default(ROBOT_DEFAULT_EXPIRY_S),
});
const userBody = z.strictObject({
  kind: z.literal('user').optional(),
  name: z.string(),
  password: z.string().optional(),
});

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

/** Admin answers are never cached and never sniffed. */
function adminReply(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('content-type', 'application/json');
}

/**
 * The admin API: the audit trail, storage usage and accounts of a running server. The auth hook
 * lets only explicit global admins through; each handler checks that again itself. With
 * authentication off it answers reads from loopback only and refuses every change.
 */
export function installAdmin(
  app: FastifyInstance,
  registry: Registry,
  opts: {
    authenticated: boolean;
    reserved?: (name: string) => boolean;
    proxyStatus?: () => unknown;
    /** `scan.onPush`: a manifest's stored scan report, undefined when it was not scanned. */
    scanReport?: (repo: string, digest: Digest) => Promise<unknown>;
  },
): void {
  const accounts = registry.accounts(opts.reserved);
  const assertAdmin = (req: FastifyRequest, write: boolean) => {
    if (opts.authenticated) {
      if (!req.kuraCaller?.admin)
        throw new OciError('DENIED', 'the admin API needs a global admin (auth.admins, or a rule with admin on "**")');
      return;
    }
    if (write)
      throw new OciError(
        'DENIED',
        'authentication is off: turn it on (auth.accounts, auth.htpasswd) and call this as an admin',
      );
    if (!isLoopback(req.socket.remoteAddress))
      throw new OciError('DENIED', 'authentication is off: the admin API answers only on loopback');
  };
  const by = (req: FastifyRequest) => ({ actor: req.kuraCaller?.who ?? null, address: req.ip });
  const admin = { config: { family: 'admin' as const } };

  app.get('/admin/v1/audit', admin, async (req, reply) => {
    assertAdmin(req, false);
    const q = req.kura.query;
    const num = (k: string, d: number) => (q.has(k) && /^\d+$/.test(q.get(k)!) ? Number(q.get(k)) : d);
    const events = await registry.listAudit({
      since: num('since', 0),
      actor: q.get('actor') ?? undefined,
      repository: q.get('repository') ?? undefined,
      limit: Math.min(num('limit', 100), 10_000),
    });
    return adminReply(reply).send({ events });
  });
  // The pull-through cache: each upstream's breaker, request budget and last RateLimit-* headers.
  app.get('/admin/v1/proxy', admin, async (req, reply) => {
    assertAdmin(req, false);
    return adminReply(reply).send(opts.proxyStatus?.() ?? { upstreams: [] });
  });
  app.get('/admin/v1/scans/*', admin, async (req, reply) => {
    assertAdmin(req, false);
    const rest = req.kura.path.slice('/admin/v1/scans/'.length);
    const cut = rest.lastIndexOf('/');
    const repo = rest.slice(0, Math.max(cut, 0));
    let digest: Digest;
    try {
      digest = parseDigest(rest.slice(cut + 1));
    } catch {
      throw new OciError('DIGEST_INVALID', 'use /admin/v1/scans/REPOSITORY/sha256:HEX');
    }
    if (!repo) throw new OciError('NAME_INVALID', 'use /admin/v1/scans/REPOSITORY/sha256:HEX');
    const found = opts.scanReport ? await opts.scanReport(repo, digest) : undefined;
    if (found === undefined)
      throw new OciError(
        'MANIFEST_UNKNOWN',
        opts.scanReport
          ? `${repo}@${digest} has not been scanned (yet): scan.onPush scans what is pushed, or run kura scan`
          : 'scanning is off: set scan.onPush: true',
        { repository: repo, digest },
      );
    return adminReply(reply).send(found);
  });
  app.get('/admin/v1/usage', admin, async (req, reply) => {
    assertAdmin(req, false);
    return adminReply(reply).send(await registry.usageReport());
  });
  // Maintenance on the running server (kura gc, fsck, policy with --server or on a busy data directory).
  const flag = (req: FastifyRequest, k: string) => ['1', 'true'].includes(req.kura.query.get(k) ?? '');
  app.post('/admin/v1/gc', admin, async (req, reply) => {
    const dryRun = flag(req, 'dryRun');
    assertAdmin(req, !dryRun);
    await readJson(req);
    return adminReply(reply).send(await registry.collectGarbage({ dryRun }));
  });
  app.get('/admin/v1/fsck', admin, async (req, reply) => {
    assertAdmin(req, false);
    return adminReply(reply).send(await registry.fsck({ verify: flag(req, 'verify') }));
  });
  app.get('/admin/v1/retention/plan', admin, async (req, reply) => {
    assertAdmin(req, false);
    return adminReply(reply).send(await registry.planRetention());
  });
  app.post('/admin/v1/retention/apply', admin, async (req, reply) => {
    assertAdmin(req, true);
    await readJson(req);
    const plan = await registry.planRetention();
    return adminReply(reply).send({ ...plan, ...(await registry.applyRetention(plan)) });
  });
  app.get('/admin/v1/accounts', admin, async (req, reply) => {
    assertAdmin(req, false);
    return adminReply(reply).send({ accounts: await accounts.list() });
  });
  app.post('/admin/v1/accounts', admin, async (req, reply) => {
    assertAdmin(req, true);
    const raw = await readJson(req);
    const isRobot = typeof raw === 'object' && raw !== null && (raw as { kind?: unknown }).kind === 'robot';
    const parsed = (isRobot ? robotBody : userBody).safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new OciError('BAD_REQUEST', `invalid account: ${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const body = parsed.data;
    if (body.kind === 'robot') {
      const robot = await accounts.addRobot(
        {
          name: body.name,
          repositories: body.repositories,
          actions: body.actions,
          expiresAt: Date.now() + body.expiresInSeconds * 1000,
        },
        by(req),
      );
      return adminReply(reply.code(201)).send({ name: robot.name, password: robot.secret });
    }
    const password = await accounts.addUser(body.name, body.password, by(req));
    return adminReply(reply.code(201)).send({ name: body.name, ...(body.password ? {} : { password }) });
  });
  app.delete('/admin/v1/accounts/:name', admin, async (req, reply) => {
    assertAdmin(req, true);
    await accounts.remove((req.params as { name: string }).name, by(req));
    return adminReply(reply.code(204)).send();
  });
}

/**
 * A small JSON body, read from the raw request with a 16 KiB cap. Only `application/json`: a
 * cross-site form or `text/plain` POST (no preflight) is refused (security audit L5).
 */
async function readJson(req: FastifyRequest): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.raw.resume();
    throw new OciError('UNSUPPORTED_MEDIA_TYPE', 'send the body as Content-Type: application/json');
  }
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
