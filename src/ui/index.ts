// The web UI under /ui: routes registered on the registry's fastify app, their handlers (and preact) loaded
// on the first UI request, so a registry nobody browses pays nothing for it at start-up.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { UiDeps } from './context.js';

export type { UiDeps } from './context.js';

/** Everything a page may load: our own CSS, script and inline SVG; no framing, no foreign form targets. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
type Handlers = Record<string, Handler>;

const ROUTES: ['GET' | 'POST', string, string][] = [
  ['GET', '/ui', 'dashboard'],
  ['GET', '/ui/', 'dashboard'],
  ['GET', '/ui/repos', 'repos'],
  ['GET', '/ui/r/*', 'repo'],
  ['POST', '/ui/r/*', 'repoAction'],
  ['GET', '/ui/login', 'login'],
  ['POST', '/ui/login', 'postLogin'],
  ['POST', '/ui/logout', 'logout'],
  ['GET', '/ui/theme', 'theme'],
  ['GET', '/ui/assets/*', 'asset'],
  ['GET', '/ui/usage', 'usage'],
  ['GET', '/ui/audit', 'audit'],
  ['GET', '/ui/gc', 'gc'],
  ['POST', '/ui/gc', 'postGc'],
  ['GET', '/ui/policies', 'policies'],
  ['POST', '/ui/policies/apply', 'applyRetention'],
  ['GET', '/ui/tokens', 'tokens'],
  ['POST', '/ui/tokens', 'createToken'],
  ['POST', '/ui/tokens/revoke', 'revokeToken'],
  ['GET', '/ui/*', 'notFound'],
];

const STARTED = Symbol('kura.ui.started');

/** Registers /ui on `app`; call before the app is ready. */
export function installUi(app: FastifyInstance, deps: UiDeps): void {
  let handlers: Promise<Handlers> | null = null;
  const load = (): Promise<Handlers> =>
    (handlers ??= (async () => {
      const [{ UiRequests }, { pageHandlers }, { actionHandlers }, { tokenHandlers }] = await Promise.all([
        import('./request.js'),
        import('./routes.js'),
        import('./actions.js'),
        import('./tokens.js'),
      ]);
      const ui = new UiRequests(deps);
      const pages = pageHandlers(ui);
      const actions = actionHandlers(ui);
      const { login: postLogin, gc: postGc, ...rest } = actions;
      return { ...pages, ...rest, postLogin, postGc, ...tokenHandlers(ui) } as Handlers;
    })());
  void app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 256 * 1024 },
      (_req, body, done) => done(null, new URLSearchParams(body as string)),
    );
    scope.addHook('onRequest', (req, _reply, done) => {
      (req as unknown as Record<symbol, bigint>)[STARTED] = process.hrtime.bigint();
      done();
    });
    scope.addHook('onSend', (req, reply, payload, done) => {
      const started = (req as unknown as Record<symbol, bigint>)[STARTED];
      const ms = started === undefined ? 0 : Number(process.hrtime.bigint() - started) / 1e6;
      reply
        .header('server-timing', `app;dur=${ms.toFixed(2)}`)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'same-origin');
      done(null, payload);
    });
    for (const [method, url, name] of ROUTES) {
      scope.route({ method, url, handler: async (req, reply) => (await load())[name]!(req, reply) });
    }
  });
}
