import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Action, Identity } from '../auth/access.js';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { parseScopes } from '../auth/access.js';
import type { AccessClaim, TokenService } from '../auth/tokens.js';
import { OciError } from '../oci/errors.js';
import { errorBody } from './errors.js';
import { parseV2Path } from './route.js';

export interface AuthConfig {
  authenticator: Authenticator;
  /** Set: docker's token flow (Bearer challenges, /v2/token). Unset: Basic challenges. */
  tokens: TokenService | null;
  /** Token endpoint URL for challenges; default: this server's /v2/token. */
  realm?: string;
}

/** What the handlers may ask about the caller. */
export interface Caller {
  who: Identity;
  can(repo: string, action: Action): boolean;
  /** Whether a listing (catalog) may show this repository: the caller's pull right, token or not. */
  canList(repo: string): boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    kuraCaller: Caller | null;
  }
}

const OPEN: Caller = { who: null, can: () => true, canList: () => true };

/** The repository and action a /v2 request needs; null for routes any authenticated caller may use. */
function required(method: string, path: string): { repo: string; action: Action } | null {
  const rest = path.slice('/v2/'.length);
  if (rest === '' || rest === '_catalog') return null;
  let route;
  try {
    route = parseV2Path(rest);
  } catch {
    return null; // a bad name: the handler answers NAME_INVALID
  }
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
  return access.some((a) => a.type === 'repository' && a.name === repo && (a.actions.includes(action) || a.actions.includes('*')));
}

/**
 * Authentication and authorization for /v2 and the admin API, in one onRequest hook, plus the token
 * endpoint. 401 means "who are you?" (no or bad credentials, or a token without the scope the caller
 * could get); 403 means "you may not", for a known caller.
 */
export function installAuth(app: FastifyInstance, cfg: AuthConfig | null): void {
  app.decorateRequest('kuraCaller', null);
  // No hook at all for an open registry: handlers treat a null caller as allowed everything.
  if (!cfg) return;
  const { authenticator, tokens } = cfg;
  const fromPrincipal = (p: Principal): Caller => ({ who: p.name, can: (r, a) => p.allows(r, a), canList: (r) => p.allows(r, 'pull') });

  const challenge = (req: FastifyRequest, reply: FastifyReply, need: { repo: string; action: Action } | null, error?: string) => {
    if (tokens) {
      const realm = cfg.realm ?? `${req.protocol}://${req.headers.host ?? 'localhost'}/v2/token`;
      const scope = need ? `,scope="repository:${need.repo}:${need.action === 'push' ? 'pull,push' : need.action}"` : '';
      reply.header('www-authenticate', `Bearer realm="${realm}",service="${tokens.service}"${scope}${error ? `,error="${error}"` : ''}`);
    } else {
      reply.header('www-authenticate', 'Basic realm="kura", charset="UTF-8"');
    }
    void reply
      .code(401)
      .header('content-type', 'application/json')
      .send(errorBody(new OciError('UNAUTHORIZED', need ? `authentication required to ${need.action} ${need.repo}` : 'authentication required')));
  };
  const deny = (reply: FastifyReply, need: { repo: string; action: Action }, who: string) => {
    void reply
      .code(403)
      .header('content-type', 'application/json')
      .send(errorBody(new OciError('DENIED', `${who} may not ${need.action} ${need.repo}`, { repository: need.repo, action: need.action })));
  };

  /** Resolves the caller from the Authorization header: a Caller, or 'invalid' for bad credentials. */
  const identify = async (req: FastifyRequest): Promise<Caller | 'invalid'> => {
    const header = req.headers.authorization;
    const basic = basicCredentials(header);
    if (basic === 'malformed') return 'invalid';
    if (basic) {
      const p = await authenticator.login(basic.user, basic.password);
      return p ? fromPrincipal(p) : 'invalid';
    }
    if (header?.toLowerCase().startsWith('bearer ') && tokens) {
      const claims = await tokens.verify(header.slice(7).trim());
      if (!claims) return 'invalid';
      const can = (repo: string, action: Action) => tokenAllows(claims.access, repo, action);
      // A trusted external issuer vouches for its subjects: its access claims are all there is.
      if (claims.issuer !== tokens.issuer) return { who: claims.sub, can, canList: (repo) => can(repo, 'pull') };
      // Our own: a robot removed or expired since the token was issued loses its rights at once.
      const owner = claims.sub === null ? authenticator.anonymous : await authenticator.byName(claims.sub);
      if (!owner) return 'invalid';
      return { who: claims.sub, can, canList: (repo) => owner.allows(repo, 'pull') };
    }
    return fromPrincipal(authenticator.anonymous);
  };

  app.addHook('onRequest', async (req, reply) => {
    const path = (req.raw.url ?? '').split('?')[0]!;
    const isV2 = path === '/v2' || path.startsWith('/v2/');
    const isAdmin = path.startsWith('/admin/');
    if (path === '/v2/token' || (!isV2 && !isAdmin)) {
      req.kuraCaller = OPEN;
      return;
    }
    const caller = await identify(req);
    if (caller === 'invalid') return challenge(req, reply, null, tokens ? 'invalid_token' : undefined);
    req.kuraCaller = caller;
    if (isAdmin) {
      if (caller.who === null) return challenge(req, reply, null);
      if (!(await authenticator.byName(caller.who))?.allows('**', 'admin')) {
        return deny(reply, { repo: '(admin API)', action: 'admin' }, caller.who);
      }
      return;
    }
    const need = required(req.method, path);
    if (!need) {
      // /v2/ and the catalog: clients ping /v2/ to learn how to authenticate.
      if (caller.who === null && !req.headers.authorization) return challenge(req, reply, null);
      return;
    }
    if (caller.can(need.repo, need.action)) return;
    // Could this caller get the right with (other) credentials? Then 401, else 403.
    if (caller.who !== null && !(await authenticator.byName(caller.who))?.allows(need.repo, need.action)) return deny(reply, need, caller.who);
    return challenge(req, reply, need, tokens && req.headers.authorization ? 'insufficient_scope' : undefined);
  });

  if (!tokens) return;
  const issue = async (req: FastifyRequest, reply: FastifyReply, principal: Principal, scopes: string[], refreshToken?: string) => {
    const user = principal.name;
    const access: AccessClaim[] = [];
    for (const s of parseScopes(scopes)) {
      if (s.type === 'repository') {
        const granted = s.actions.filter((a) => principal.allows(s.name, a));
        if (granted.length > 0) access.push({ type: 'repository', name: s.name, actions: granted });
      } else if (s.type === 'registry' && s.name === 'catalog' && user !== null) {
        access.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      }
    }
    const t = await tokens.issue(user, access);
    req.log.info({ user: user ?? '(anonymous)', access }, 'token issued');
    return reply
      .header('cache-control', 'no-store')
      .send({ token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt, ...(refreshToken ? { refresh_token: refreshToken } : {}) });
  };
  const unauthorized = (reply: FastifyReply) =>
    reply.code(401).header('www-authenticate', 'Basic realm="kura", charset="UTF-8"').send({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });

  // GET with Basic credentials (or none, for anonymous access), as docker and skopeo do.
  app.get('/v2/token', async (req, reply) => {
    const basic = basicCredentials(req.headers.authorization);
    if (basic === 'malformed') return unauthorized(reply);
    const principal = basic ? await authenticator.login(basic.user, basic.password) : authenticator.anonymous;
    if (!principal) return unauthorized(reply);
    const q = new URLSearchParams((req.raw.url ?? '').split('?')[1] ?? '');
    return issue(req, reply, principal, q.getAll('scope'));
  });
  // The OAuth2 password grant docker uses with `--password-stdin` logins. Its form parser lives in
  // its own plugin scope, so blob uploads sent as form-urlencoded (curl's default) stay raw streams.
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) =>
      done(null, new URLSearchParams(body as string)),
    );
    scope.post('/v2/token', async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
      const grant = form.get('grant_type');
      const scopes = (form.get('scope') ?? '').split(' ');
      if (grant === 'password') {
        const principal = await authenticator.login(form.get('username') ?? '', form.get('password') ?? '');
        if (!principal) return unauthorized(reply);
        // access_type=offline asks for a refresh token too (docker keeps it as its identity token).
        const refresh = form.get('access_type') === 'offline' ? await tokens.issueRefresh(principal.name!) : undefined;
        return issue(req, reply, principal, scopes, refresh);
      }
      if (grant === 'refresh_token') {
        const sub = await tokens.verifyRefresh(form.get('refresh_token') ?? '');
        // The account must still exist (and not have expired) for its refresh token to work.
        const principal = sub ? await authenticator.byName(sub) : null;
        if (!principal) return unauthorized(reply);
        return issue(req, reply, principal, scopes, form.get('refresh_token') ?? undefined);
      }
      return reply.code(400).send({ error: 'unsupported_grant_type', error_description: 'use grant_type=password or refresh_token' });
    });
  });
}
