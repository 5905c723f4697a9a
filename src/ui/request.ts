// One web UI request: who is looking (session or anonymous, with the registry's rights), the CSRF check,
// rendering a page with its security headers, and OciErrors as error pages.
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import { renderToString } from 'preact-render-to-string';
import { isOciError } from '../oci/errors.js';
import type { Ctx, Theme, UiDeps, Viewer } from './context.js';
import { ErrorPage } from './pages/simple.js';
import {
  cookie,
  CSRF_COOKIE,
  parseCookies,
  sameToken,
  SESSION_COOKIE,
  Sessions,
  THEME_COOKIE,
  token,
} from './session.js';

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(a) === 4 ? a.startsWith('127.') : a === '::1';
}

/** The status of an error page for a registry error code. */
export function statusOf(code: string): number {
  if (code.endsWith('_UNKNOWN')) return 404;
  return (
    ({ DENIED: 403, UNAUTHORIZED: 401, UNSUPPORTED: 405, UNAVAILABLE: 503, TOOMANYREQUESTS: 429 } as const)[
      code as 'DENIED'
    ] ?? 400
  );
}

export class UiRequests {
  readonly sessions = new Sessions();

  constructor(readonly deps: UiDeps) {}

  /** The viewer and CSRF token of a request; sets the anonymous CSRF cookie when it is missing. */
  async ctx(req: FastifyRequest, reply: FastifyReply): Promise<Ctx & { sessionId: string | null }> {
    const cookies = parseCookies(req.headers.cookie);
    const session = this.sessions.get(cookies.get(SESSION_COOKIE));
    const viewer = await this.viewer(req, session?.name ?? null);
    let csrf = session && viewer.name !== null ? session.csrf : cookies.get(CSRF_COOKIE);
    if (!csrf || csrf.length < 16) {
      csrf = token();
      reply.header('set-cookie', cookie(CSRF_COOKIE, csrf, { secure: this.deps.tls }));
    }
    const t = cookies.get(THEME_COOKIE);
    const theme: Theme = t === 'light' || t === 'dark' ? t : 'auto';
    const host = this.deps.publicHost || req.headers.host || 'localhost';
    const path = req.url.split('?')[0]!;
    return { viewer, csrf, theme, path, host, sessionId: session && viewer.name !== null ? session.id : null };
  }

  private async viewer(req: FastifyRequest, name: string | null): Promise<Viewer> {
    const auth = this.deps.auth;
    if (!auth) {
      // An open registry: the API lets everyone do everything; admin reads only from loopback, no admin changes.
      const local = isLoopback(req.socket.remoteAddress);
      return { name: null, can: () => true, admin: false, adminRead: local, authEnabled: false };
    }
    const p = (name !== null ? await auth.authenticator.byName(name) : null) ?? auth.authenticator.anonymous;
    return { name: p.name, can: (r, a) => p.allows(r, a), admin: p.admin, adminRead: p.admin, authEnabled: true };
  }

  /** Whether a POST carries this viewer's CSRF token. */
  csrfOk(ctx: Ctx, form: URLSearchParams): boolean {
    return sameToken(form.get('csrf') ?? undefined, ctx.csrf);
  }

  send(reply: FastifyReply, status: number, page: VNode): FastifyReply {
    return reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(`<!doctype html>${renderToString(page)}`);
  }

  /** An error page for a registry error (its own status), or rethrows anything else. */
  fail(reply: FastifyReply, ctx: Ctx, e: unknown): FastifyReply {
    if (!isOciError(e)) throw e;
    const status = statusOf(e.code);
    const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : 'Cannot do that';
    return this.send(reply, status, ErrorPage({ ctx, title, message: e.message }));
  }

  denied(reply: FastifyReply, ctx: Ctx, message: string): FastifyReply {
    return this.send(reply, 403, ErrorPage({ ctx, title: 'Not allowed', message }));
  }
}
