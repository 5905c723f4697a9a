// The tokens page (/ui/tokens): robot accounts (CI tokens) listed, created (the secret shown once) and revoked
// after a confirmation, by registry administrators, as the admin API allows; everyone else reads why not.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isOciError, OciError } from '../oci/errors.js';
import type { AccountView } from '../registry/accounts.js';
import type { Ctx } from './context.js';
import { when } from './format.js';
import { CopyButton, Csrf, Page } from './layout.js';
import { Confirm, ErrorPage } from './pages/simple.js';
import type { UiRequests } from './request.js';

const ACTIONS = ['pull', 'push', 'delete'] as const;
/** The admin API's default and longest robot lifetime, in days. */
const DEFAULT_DAYS = 90;
const MAX_DAYS = 3650;

function TokensPage({ ctx, accounts }: { ctx: Ctx; accounts: AccountView[] | null }) {
  return (
    <Page ctx={ctx} title="Tokens" section="/ui/tokens">
      <p>
        Kura has no personal access tokens: <code>docker login</code> takes your password (with the token service on,
        the client trades it for a short-lived token). For CI, a registry administrator makes a robot account: a name
        and a secret that may do only what it is given, on the repositories it names, until it expires.
      </p>
      {accounts === null ? (
        <p>Robot accounts are made and revoked by registry administrators.</p>
      ) : (
        <>
          <h2>Accounts</h2>
          {accounts.length === 0 ? (
            <p>The registry has no accounts of its own yet (htpasswd users are not listed here).</p>
          ) : (
            <table>
              <caption class="skip">Accounts kept by the registry</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">May</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Revoke</th>
                </tr>
              </thead>
              <tbody>
                {accounts.map((a) => (
                  <tr key={a.name}>
                    <td>{a.name}</td>
                    <td>{a.kind}</td>
                    <td>
                      {a.grants ? `${a.grants.actions.join(', ')} on ${a.grants.repositories.join(', ')}` : 'rules'}
                    </td>
                    <td>{when(a.createdAt)}</td>
                    <td>{a.expiresAt === null ? 'never' : when(a.expiresAt)}</td>
                    <td>
                      <form class="inline" method="post" action="/ui/tokens/revoke">
                        <Csrf ctx={ctx} />
                        <input type="hidden" name="name" value={a.name} />
                        <button type="submit" class="danger" aria-label={`Revoke ${a.name}`}>
                          Revoke
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>New robot</h2>
          <form method="post" action="/ui/tokens" class="bar">
            <Csrf ctx={ctx} />
            <label>
              Name (empty: robot-…)
              <input name="name" pattern="[a-z0-9][a-z0-9._-]{0,63}" />
            </label>
            <label>
              Repositories (globs, space-separated)
              <input name="repositories" required placeholder="team/** app" />
            </label>
            <fieldset>
              <legend>May</legend>
              {ACTIONS.map((a) => (
                <label key={a}>
                  {a}
                  <input type="checkbox" name="action" value={a} checked={a === 'pull'} />
                </label>
              ))}
            </fieldset>
            <label>
              Expires in (days)
              <input name="days" type="number" min="1" max={String(MAX_DAYS)} value={String(DEFAULT_DAYS)} />
            </label>
            <button type="submit">Create</button>
          </form>
        </>
      )}
    </Page>
  );
}

function Created({ ctx, name, secret }: { ctx: Ctx; name: string; secret: string }) {
  return (
    <Page ctx={ctx} title={`Robot ${name} created`} section="/ui/tokens">
      <p role="status">Copy the secret now: Kura keeps only its hash and will not show it again.</p>
      <p>
        <code class="secret">{secret}</code>
        <CopyButton value={secret} />
      </p>
      <p>
        Sign in with <code>{`docker login ${ctx.host} -u ${name}`}</code> and this secret as the password.
      </p>
      <p>
        <a href="/ui/tokens">Back to the tokens</a>
      </p>
    </Page>
  );
}

export function tokenHandlers(ui: UiRequests) {
  const { registry, auth } = ui.deps;
  const accounts = registry.accounts((n) => auth?.authenticator.inHtpasswd(n) ?? false);
  const form = (req: FastifyRequest) => (req.body instanceof URLSearchParams ? req.body : new URLSearchParams());
  const by = (req: FastifyRequest, ctx: Ctx) => ({ actor: ctx.viewer.name, address: req.ip });
  const off = (reply: FastifyReply, ctx: Ctx) =>
    ui.send(
      reply,
      404,
      ErrorPage({ ctx, title: 'Tokens', message: 'Authentication is off on this registry: it has no accounts.' }),
    );
  /** The context of a POST by an administrator with a good CSRF token, or null once an error page is sent. */
  const adminPost = async (req: FastifyRequest, reply: FastifyReply) => {
    const ctx = await ui.ctx(req, reply);
    if (!ui.csrfOk(ctx, form(req))) {
      const message = 'Reload the page and submit the form again.';
      ui.send(reply, 403, ErrorPage({ ctx, title: 'Form expired', message }));
      return null;
    }
    if (!ctx.viewer.admin) {
      ui.denied(reply, ctx, 'Robot accounts are made and revoked by registry administrators.');
      return null;
    }
    return ctx;
  };
  const refused = (reply: FastifyReply, ctx: Ctx, e: unknown) => {
    if (!isOciError(e)) throw e;
    return ui.send(reply, 400, ErrorPage({ ctx, title: 'Cannot do that', message: e.message }));
  };

  return {
    async tokens(req: FastifyRequest, reply: FastifyReply) {
      const ctx = await ui.ctx(req, reply);
      if (!auth) return off(reply, ctx);
      if (ctx.viewer.name === null) return reply.redirect('/ui/login?back=%2Fui%2Ftokens', 303);
      const list = ctx.viewer.admin ? await accounts.list() : null;
      return ui.send(reply, 200, TokensPage({ ctx, accounts: list }));
    },

    async createToken(req: FastifyRequest, reply: FastifyReply) {
      const ctx = await adminPost(req, reply);
      if (!ctx) return reply;
      const f = form(req);
      const days = Number(f.get('days') || DEFAULT_DAYS);
      if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS)
        return refused(reply, ctx, new OciError('BAD_REQUEST', `expiry: 1 to ${MAX_DAYS} days`));
      try {
        const robot = await accounts.addRobot(
          {
            ...(f.get('name') ? { name: f.get('name')! } : {}),
            repositories: (f.get('repositories') ?? '')
              .split(/[\s,]+/)
              .filter(Boolean)
              .slice(0, 100),
            actions: [...new Set(f.getAll('action'))],
            expiresAt: Date.now() + days * 86_400_000,
          },
          by(req, ctx),
        );
        return ui.send(reply, 201, Created({ ctx, name: robot.name, secret: robot.secret }));
      } catch (e) {
        return refused(reply, ctx, e);
      }
    },

    async revokeToken(req: FastifyRequest, reply: FastifyReply) {
      const ctx = await adminPost(req, reply);
      if (!ctx) return reply;
      const f = form(req);
      const name = f.get('name') ?? '';
      if (f.get('confirm') !== 'yes') {
        const data = {
          title: `Revoke ${name}?`,
          action: '/ui/tokens/revoke',
          fields: [['name', name]] as [string, string][],
          button: `Revoke ${name}`,
          cancel: '/ui/tokens',
          children: <p>{`${name} can no longer sign in, and its sessions end on their next request.`}</p>,
        };
        return ui.send(reply, 200, Confirm({ ctx, data }));
      }
      try {
        await accounts.remove(name, by(req, ctx));
      } catch (e) {
        return refused(reply, ctx, e);
      }
      return reply.redirect('/ui/tokens', 303);
    },
  };
}
