import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Action } from '../oci/actions.js';
import type { Identity } from '../auth/access.js';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { parseScopes } from '../auth/access.js';
import { VerifierBusyError } from '../auth/passwords.js';
import type { FailureThrottle } from '../auth/throttle.js';
import type { AccessClaim, TokenService } from '../auth/tokens.js';
import { isRepositoryName } from '../oci/names.js';
import { OciError } from '../oci/errors.js';
import { badHost } from './context.js';
import { errorBody } from './errors.js';
import type { V2Route } from './route.js';

export interface AuthConfig {
  authenticator: Authenticator;
  /** Set: docker's token flow (Bearer challenges, /v2/token). Unset: Basic challenges. */
  tokens: TokenService | null;
  /** Token endpoint URL for challenges; default: this server's /v2/token. */
  realm?: string;
  /** Failed-authentication lockout (per address and per user name); absent: none. */
  throttle?: FailureThrottle | null;
}

/** What the handlers may ask about the caller. */
export interface Caller {
  /** Local names as they are; identities from external issuers as `ISSUER|SUBJECT`, never a local name. */
  who: Identity;
  can(repo: string, action: Action): boolean;
  /** Whether a listing (catalog) may show this repository: the caller's pull right, token or not. */
  canList(repo: string): boolean;
  /** Whether the caller may use the global admin API. */
  admin: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    kuraCaller: Caller | null;
  }
}

const OPEN: Caller = { who: null, can: () => true, canList: () => true, admin: false };

/** The admin API in a token: asked for as scope `registry:admin:*`, granted only to global admins. */
const ADMIN_CLAIM = { type: 'registry', name: 'admin' } as const;

/** The repository and action a /v2 route needs; null for routes any authenticated caller may use. */
function required(method: string, route: V2Route | null): { repo: string; action: Action } | null {
  if (!route) return null;
  if (route.kind === 'uploads' || route.kind === 'upload') return { repo: route.repo, action: 'push' };
  if (method === 'DELETE') return { repo: route.repo, action: 'delete' };
  if (method === 'PUT') return { repo: route.repo, action: 'push' };
  return { repo: route.repo, action: 'pull' };
}

function basicCredentials(header: string | undefined): { user: string; password: string } | null | 'malformed' {
  if (!header?.toLowerCase().startsWith('basic ')) return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return 'malformed';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function tokenAllows(access: AccessClaim[], repo: string, action: Action): boolean {
  return access.some(
    (a) => a.type === 'repository' && a.name === repo && (a.actions.includes(action) || a.actions.includes('*')),
  );
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

type Identified = Caller | 'invalid' | { locked: number };

/**
 * Authentication and authorization, decided from the matched route's family (never from the path
 * text): /v2 routes by repository and action, the admin API for explicit global admins only, the
 * token endpoint. 401 means "who are you?" (no or bad credentials, or a token without the scope the
 * caller could get); 403 means "you may not", for a known caller; 429 a locked-out guesser.
 */
export function installAuth(app: FastifyInstance, cfg: AuthConfig | null): void {
  app.decorateRequest('kuraCaller', null);
  // No hook at all for an open registry: handlers treat a null caller as allowed everything.
  if (!cfg) return;
  const { authenticator, tokens } = cfg;
  const throttle = cfg.throttle ?? null;
  const fromPrincipal = (p: Principal): Caller => ({
    who: p.name,
    can: (r, a) => p.allows(r, a),
    canList: (r) => p.allows(r, 'pull'),
    admin: p.admin,
  });

  const challenge = (
    req: FastifyRequest,
    reply: FastifyReply,
    need: { repo: string; action: Action } | 'admin' | null,
    error?: string,
  ) => {
    if (tokens) {
      const realm = cfg.realm ?? `${req.protocol}://${req.headers.host ?? 'localhost'}/v2/token`;
      const scope =
        need === 'admin'
          ? ',scope="registry:admin:*"'
          : need
            ? `,scope="repository:${need.repo}:${need.action === 'push' ? 'pull,push' : need.action}"`
            : '';
      reply.header(
        'www-authenticate',
        `Bearer realm="${realm}",service="${tokens.service}"${scope}${error ? `,error="${error}"` : ''}`,
      );
    } else {
      reply.header('www-authenticate', 'Basic realm="kura", charset="UTF-8"');
    }
    const what =
      need === 'admin'
        ? 'authentication as an admin required'
        : need
          ? `authentication required to ${need.action} ${need.repo}`
          : 'authentication required';
    void reply
      .code(401)
      .header('content-type', 'application/json')
      .send(errorBody(new OciError('UNAUTHORIZED', what)));
  };
  const deny = (reply: FastifyReply, need: { repo: string; action: Action }, who: string) => {
    void reply
      .code(403)
      .header('content-type', 'application/json')
      .send(
        errorBody(
          new OciError('DENIED', `${who} may not ${need.action} ${need.repo}`, {
            repository: need.repo,
            action: need.action,
          }),
        ),
      );
  };
  const locked = (reply: FastifyReply, ms: number) => {
    const s = Math.max(1, Math.ceil(ms / 1000));
    void reply
      .code(429)
      .header('retry-after', s)
      .header('content-type', 'application/json')
      .send(errorBody(new OciError('TOOMANYREQUESTS', `too many failed sign-ins; retry in ${s}s`, { retryAfter: s })));
  };

  /** A password login, throttled per address and user name before any hash is compared. */
  const login = async (
    req: FastifyRequest,
    reply: FastifyReply,
    user: string,
    password: string,
  ): Promise<Principal | null | { locked: number }> => {
    const keys = [`addr:${req.ip}`, `user:${user}`];
    const wait = throttle?.retryAfterMs(keys) ?? 0;
    if (wait > 0) return { locked: wait };
    let p: Principal | null;
    try {
      p = await authenticator.login(user, password);
    } catch (e) {
      if (e instanceof VerifierBusyError) {
        reply.header('retry-after', 2);
        throw new OciError('UNAVAILABLE', e.message);
      }
      throw e;
    }
    if (p) throttle?.succeed(`user:${user}`);
    else throttle?.fail(keys);
    return p;
  };

  /** Resolves the caller from the Authorization header: a Caller, 'invalid' for bad credentials, or a lockout. */
  const identify = async (req: FastifyRequest, reply: FastifyReply): Promise<Identified> => {
    const header = req.headers.authorization;
    const basic = basicCredentials(header);
    if (basic === 'malformed') return 'invalid';
    if (basic) {
      const p = await login(req, reply, basic.user, basic.password);
      if (p && 'locked' in p) return p;
      return p ? fromPrincipal(p) : 'invalid';
    }
    if (header?.toLowerCase().startsWith('bearer ') && tokens) {
      const wait = throttle?.retryAfterMs([`addr:${req.ip}`]) ?? 0;
      if (wait > 0) return { locked: wait };
      const claims = await tokens.verify(header.slice(7).trim());
      if (!claims) {
        throttle?.fail([`addr:${req.ip}`]);
        return 'invalid';
      }
      const can = (repo: string, action: Action) => tokenAllows(claims.access, repo, action);
      // A trusted external issuer vouches for its subjects: its access claims are all there is, and
      // its subjects are named by issuer, so none of them is ever a local account (or an admin).
      if (claims.issuer !== tokens.issuer)
        return { who: `${claims.issuer}|${claims.sub ?? ''}`, can, canList: (repo) => can(repo, 'pull'), admin: false };
      // Our own: a robot removed or expired since the token was issued loses its rights at once.
      const owner = claims.sub === null ? authenticator.anonymous : await authenticator.byName(claims.sub);
      if (!owner) return 'invalid';
      const admin =
        owner.admin &&
        claims.access.some(
          (a) => a.type === ADMIN_CLAIM.type && a.name === ADMIN_CLAIM.name && a.actions.includes('*'),
        );
      return { who: claims.sub, can, canList: (repo) => owner.allows(repo, 'pull'), admin };
    }
    return fromPrincipal(authenticator.anonymous);
  };
  /** Whether the request carries credentials this server can use (a header of another scheme counts as none). */
  const credentialed = (req: FastifyRequest) => {
    const h = req.headers.authorization?.toLowerCase() ?? '';
    return h.startsWith('basic ') || (tokens !== null && h.startsWith('bearer '));
  };

  app.addHook('onRequest', async (req, reply) => {
    const { family } = req.kura;
    if (family !== 'v2' && family !== 'admin') {
      req.kuraCaller = OPEN;
      return;
    }
    const host = badHost(req);
    if (host) throw host;
    const caller = await identify(req, reply);
    if (caller === 'invalid')
      return challenge(req, reply, family === 'admin' ? 'admin' : null, tokens ? 'invalid_token' : undefined);
    if ('locked' in caller) return locked(reply, caller.locked);
    req.kuraCaller = caller;
    if (family === 'admin') {
      if (caller.who === null) return challenge(req, reply, 'admin');
      if (!caller.admin) {
        // A global admin holding a token without the admin scope can get one: 401 with the scope to ask for.
        if (
          req.headers.authorization?.toLowerCase().startsWith('bearer ') &&
          (await authenticator.byName(caller.who))?.admin
        ) {
          return challenge(req, reply, 'admin', 'insufficient_scope');
        }
        return deny(reply, { repo: '(admin API)', action: 'admin' }, caller.who);
      }
      return;
    }
    const { v2, v2Error, path } = req.kura;
    // A bad name or a path that is no API route: the handler answers NAME_INVALID or 404, touching nothing.
    if (v2Error || (!v2 && path !== '/v2/' && path !== '/v2' && path !== '/v2/_catalog')) return;
    const need = required(req.method, v2);
    if (!need) {
      // /v2/ and the catalog: clients ping /v2/ to learn how to authenticate.
      if (caller.who === null && !credentialed(req)) return challenge(req, reply, null);
      return;
    }
    if (caller.can(need.repo, need.action)) return;
    // Could this caller get the right with (other) credentials? Then 401, else 403.
    if (caller.who !== null && !(await authenticator.byName(caller.who))?.allows(need.repo, need.action))
      return deny(reply, need, caller.who);
    return challenge(req, reply, need, tokens && req.headers.authorization ? 'insufficient_scope' : undefined);
  });

  if (tokens) installTokenEndpoint(app, cfg, tokens, login);
}

type Login = (
  req: FastifyRequest,
  reply: FastifyReply,
  user: string,
  password: string,
) => Promise<Principal | null | { locked: number }>;

/** GET and POST /v2/token: docker's token flow, the OAuth2 password and refresh grants. */
function installTokenEndpoint(app: FastifyInstance, cfg: AuthConfig, tokens: TokenService, login: Login): void {
  const { authenticator } = cfg;
  const issue = async (
    req: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    scopes: string[],
    refreshToken?: string,
  ) => {
    const user = principal.name;
    const access: AccessClaim[] = [];
    for (const s of parseScopes(scopes, isRepositoryName)) {
      if (s.type === 'repository') {
        const granted = s.actions.filter((a) => principal.allows(s.name, a));
        if (granted.length > 0) access.push({ type: 'repository', name: s.name, actions: granted });
      } else if (s.type === 'registry' && s.name === 'catalog' && user !== null) {
        access.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      } else if (s.type === ADMIN_CLAIM.type && s.name === ADMIN_CLAIM.name && principal.admin) {
        access.push({ ...ADMIN_CLAIM, actions: ['*'] });
      }
    }
    const t = await tokens.issue(user, access);
    req.log.info({ user: user ?? '(anonymous)', access }, 'token issued');
    return reply.header('cache-control', 'no-store').send({
      token: t.token,
      access_token: t.token,
      expires_in: t.expiresIn,
      issued_at: t.issuedAt,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    });
  };
  const unauthorized = (reply: FastifyReply) =>
    reply
      .code(401)
      .header('www-authenticate', 'Basic realm="kura", charset="UTF-8"')
      .send({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
  const tooMany = (reply: FastifyReply, ms: number) => {
    const s = Math.max(1, Math.ceil(ms / 1000));
    return reply
      .code(429)
      .header('retry-after', s)
      .send({ errors: [{ code: 'TOOMANYREQUESTS', message: `too many failed sign-ins; retry in ${s}s` }] });
  };

  // GET with Basic credentials (or none, for anonymous access), as docker and skopeo do.
  app.get('/v2/token', { config: { family: 'token' } }, async (req, reply) => {
    const basic = basicCredentials(req.headers.authorization);
    if (basic === 'malformed') return unauthorized(reply);
    const principal = basic ? await login(req, reply, basic.user, basic.password) : authenticator.anonymous;
    if (principal && 'locked' in principal) return tooMany(reply, principal.locked);
    if (!principal) return unauthorized(reply);
    return issue(req, reply, principal, req.kura.query.getAll('scope'));
  });
  // The OAuth2 password grant docker uses with `--password-stdin` logins. Its form parser lives in
  // its own plugin scope, so blob uploads sent as form-urlencoded (curl's default) stay raw streams.
  void app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_req, body, done) => done(null, new URLSearchParams(body as string)),
    );
    scope.post('/v2/token', { config: { family: 'token' } }, async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
      const grant = form.get('grant_type');
      const scopes = (form.get('scope') ?? '').split(' ');
      if (grant === 'password') {
        const principal = await login(req, reply, form.get('username') ?? '', form.get('password') ?? '');
        if (principal && 'locked' in principal) return tooMany(reply, principal.locked);
        if (!principal) return unauthorized(reply);
        // access_type=offline asks for a refresh token too (docker keeps it as its identity token).
        const cv = principal.name ? await authenticator.credentialVersion(principal.name) : null;
        const refresh =
          form.get('access_type') === 'offline' && cv ? await tokens.issueRefresh(principal.name!, cv) : undefined;
        return issue(req, reply, principal, scopes, refresh);
      }
      if (grant === 'refresh_token') {
        const wait = cfg.throttle?.retryAfterMs([`addr:${req.ip}`]) ?? 0;
        if (wait > 0) return tooMany(reply, wait);
        const refresh = await tokens.verifyRefresh(form.get('refresh_token') ?? '');
        // The account must still exist, unexpired, with the credential the token was issued for.
        const cv = refresh ? await authenticator.credentialVersion(refresh.sub) : null;
        const principal = refresh && cv && sameString(cv, refresh.cv) ? await authenticator.byName(refresh.sub) : null;
        if (!principal) {
          cfg.throttle?.fail([`addr:${req.ip}`]);
          return unauthorized(reply);
        }
        return issue(req, reply, principal, scopes, form.get('refresh_token') ?? undefined);
      }
      return reply
        .code(400)
        .send({ error: 'unsupported_grant_type', error_description: 'use grant_type=password or refresh_token' });
    });
  });
}
