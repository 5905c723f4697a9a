// The web UI's POST actions: sign-in/out, untag, delete manifest, retag, GC, retention apply. Each checks the
// CSRF token, then the viewer's right (403 otherwise), and destructive ones show a confirmation page first.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isDigest } from '../oci/digest.js';
import { isRepositoryName, isTag } from '../oci/names.js';
import type { Ctx } from './context.js';
import { bytes } from './format.js';
import { GcPage } from './pages/admin.js';
import { Confirm, ErrorPage, Login } from './pages/simple.js';
import type { UiRequests } from './request.js';
import { safeBack } from './routes.js';
import { cookie, SESSION_COOKIE } from './session.js';

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

function form(req: FastifyRequest): URLSearchParams {
  return req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
}

export function actionHandlers(ui: UiRequests): Record<string, Handler> {
  const { registry, meta, auth } = ui.deps;
  /** The context of a POST with a good CSRF token, or null once a 403 page is sent. */
  const start = async (req: FastifyRequest, reply: FastifyReply) => {
    const ctx = await ui.ctx(req, reply);
    const f = form(req);
    if (!ui.csrfOk(ctx, f)) {
      ui.send(
        reply,
        403,
        ErrorPage({ ctx, title: 'Form expired', message: 'Reload the page and submit the form again.' }),
      );
      return null;
    }
    return { ctx, f };
  };
  const audit = (req: FastifyRequest, ctx: Ctx, action: string, repository: string, reference: string) => {
    if (!ui.deps.audit) return;
    const at = Date.now();
    registry.audit({ at, actor: ctx.viewer.name, address: req.ip, action, repository, reference, status: 202 });
  };
  const repoOf = (req: FastifyRequest, action: string): string | null => {
    const rest = (req.params as { '*': string })['*'];
    const repo = rest.endsWith(`/${action}`) ? rest.slice(0, -action.length - 1) : '';
    return isRepositoryName(repo) ? repo : null;
  };
  const mayDelete = (reply: FastifyReply, ctx: Ctx, repo: string) =>
    ctx.viewer.can(repo, 'delete') ? null : ui.denied(reply, ctx, `You may not delete in ${repo}.`);
  const done = (reply: FastifyReply, repo: string, what: string, value: string) =>
    reply.redirect(`/ui/r/${repo}?done=${what}&what=${encodeURIComponent(value)}`, 303);

  return {
    async login(req, reply) {
      const s = await start(req, reply);
      if (!s) return reply;
      const { ctx, f } = s;
      const back = safeBack(f.get('back'));
      if (!auth) return reply.redirect(back, 303);
      const user = f.get('user') ?? '';
      const keys = [`addr:${req.ip}`, `user:${user}`];
      const wait = auth.throttle?.retryAfterMs(keys) ?? 0;
      const p = wait > 0 ? null : await auth.authenticator.login(user, f.get('password') ?? '');
      if (!p || p.name === null) {
        if (wait === 0) auth.throttle?.fail(keys);
        const error =
          wait > 0
            ? `Too many failed sign-ins: try again in ${Math.ceil(wait / 1000)} s.`
            : 'Wrong user name or password.';
        return ui.send(reply, 401, Login({ ctx, error, back }));
      }
      auth.throttle?.succeed(`user:${user}`);
      const session = ui.sessions.create(p.name);
      reply.header('set-cookie', cookie(SESSION_COOKIE, session.id, { secure: ui.deps.tls }));
      return reply.redirect(back, 303);
    },

    async logout(req, reply) {
      const s = await start(req, reply);
      if (!s) return reply;
      if (s.ctx.sessionId) ui.sessions.drop(s.ctx.sessionId);
      reply.header('set-cookie', cookie(SESSION_COOKIE, '', { secure: ui.deps.tls, maxAge: 0 }));
      return reply.redirect('/ui', 303);
    },

    async repoAction(req, reply) {
      const rest = (req.params as { '*': string })['*'];
      const action = rest.slice(rest.lastIndexOf('/') + 1);
      const handler = { untag, delete: remove, retag }[action];
      if (!handler) return reply.code(404).header('content-type', 'text/plain').send('no such action\n');
      return handler(req, reply);
    },

    async gc(req, reply) {
      const s = await start(req, reply);
      if (!s) return reply;
      const { ctx, f } = s;
      const dryRun = f.get('dryRun') !== '0';
      if (!(dryRun ? ctx.viewer.adminRead : ctx.viewer.admin))
        return ui.denied(reply, ctx, 'Collecting garbage needs a registry administrator.');
      if (!dryRun && f.get('confirm') !== 'yes') {
        const preview = await registry.collectGarbage({ dryRun: true });
        return ui.send(
          reply,
          200,
          Confirm({
            ctx,
            data: {
              title: 'Collect garbage now?',
              action: '/ui/gc',
              fields: [['dryRun', '0']],
              button: 'Collect now',
              cancel: '/ui/gc',
              children: <p>{`This deletes ${preview.blobs.length} unreferenced blobs (${bytes(preview.bytes)}).`}</p>,
            },
          }),
        );
      }
      return ui.send(reply, 200, GcPage({ ctx, result: await registry.collectGarbage({ dryRun }) }));
    },

    async applyRetention(req, reply) {
      const s = await start(req, reply);
      if (!s) return reply;
      const { ctx, f } = s;
      if (!ctx.viewer.admin) return ui.denied(reply, ctx, 'Applying retention needs a registry administrator.');
      const plan = await registry.planRetention();
      if (f.get('confirm') !== 'yes') {
        const data = {
          title: 'Apply the retention plan?',
          action: '/ui/policies/apply',
          fields: [] as [string, string][],
          button: `Remove ${plan.actions.length} tags and manifests`,
          cancel: '/ui/policies',
          children: (
            <ul>
              {plan.actions.map((a, i) => (
                <li key={i}>{a.kind === 'tag' ? `${a.repo}:${a.tag}` : `${a.repo}@${a.digest}`}</li>
              ))}
            </ul>
          ),
        };
        return ui.send(reply, 200, Confirm({ ctx, data }));
      }
      const r = await registry.applyRetention(plan);
      const message = `Applied: ${r.applied} removed, ${r.skipped} skipped (changed since the plan).`;
      return ui.send(reply, 200, ErrorPage({ ctx, title: 'Retention applied', message }));
    },
  };

  async function untag(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const s = await start(req, reply);
    if (!s) return reply;
    const { ctx, f } = s;
    const repo = repoOf(req, 'untag');
    if (!repo) return ui.send(reply, 404, ErrorPage({ ctx, title: 'Not found', message: 'No such repository.' }));
    const denied = mayDelete(reply, ctx, repo);
    if (denied) return denied;
    const tags = [...new Set(f.getAll('tag'))].filter(isTag);
    if (tags.length === 0) {
      return ui.send(reply, 400, ErrorPage({ ctx, title: 'Nothing selected', message: 'Select the tags to untag.' }));
    }
    if (f.get('confirm') !== 'yes') {
      const all = (await meta.manifests.tagDetails(repo)) ?? [];
      const digestOf = new Map(all.map((t) => [t.name, t.digest]));
      const data = {
        title: `Untag ${tags.length === 1 ? tags[0] : `${tags.length} tags`}?`,
        action: `/ui/r/${repo}/untag`,
        fields: tags.map((t) => ['tag', t] as [string, string]),
        button: tags.length === 1 ? `Untag ${tags[0]}` : `Untag ${tags.length} tags`,
        cancel: `/ui/r/${repo}`,
        children: (
          <>
            <p>Only the tags go; every manifest stays, and so do its other tags:</p>
            <ul>
              {tags.map((t) => {
                const others = all.filter((o) => o.digest === digestOf.get(t) && !tags.includes(o.name));
                const stay = others.length ? `, ${others.map((o) => o.name).join(', ')} stay` : '';
                return <li key={t}>{`${repo}:${t} (${digestOf.get(t) ?? 'not found'}${stay})`}</li>;
              })}
            </ul>
          </>
        ),
      };
      return ui.send(reply, 200, Confirm({ ctx, data }));
    }
    try {
      for (const t of tags) {
        await registry.deleteManifest(repo, t);
        audit(req, ctx, 'delete', repo, t);
      }
    } catch (e) {
      return ui.fail(reply, ctx, e);
    }
    return done(reply, repo, 'untagged', tags.join(', '));
  }

  async function remove(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const s = await start(req, reply);
    if (!s) return reply;
    const { ctx, f } = s;
    const repo = repoOf(req, 'delete');
    if (!repo) return ui.send(reply, 404, ErrorPage({ ctx, title: 'Not found', message: 'No such repository.' }));
    const denied = mayDelete(reply, ctx, repo);
    if (denied) return denied;
    const digest = f.get('digest') ?? '';
    if (!isDigest(digest)) {
      return ui.send(reply, 400, ErrorPage({ ctx, title: 'Bad digest', message: 'Give the digest of a manifest.' }));
    }
    if (f.get('confirm') !== 'yes') {
      const tags = ((await meta.manifests.tagDetails(repo)) ?? [])
        .filter((t) => t.digest === digest)
        .map((t) => t.name);
      const data = {
        title: 'Delete this manifest?',
        action: `/ui/r/${repo}/delete`,
        fields: [['digest', digest]] as [string, string][],
        button: tags.length > 1 ? `Delete it and its ${tags.length} tags` : 'Delete it',
        cancel: `/ui/r/${repo}`,
        children: (
          <p class={tags.length > 1 ? 'warn' : undefined}>
            {`${repo}@${digest} goes, and with it ${
              tags.length === 0
                ? 'no tag'
                : `this removes ${tags.length} ${tags.length === 1 ? 'tag' : 'tags'}: ${tags.sort().join(', ')}`
            }.`}
          </p>
        ),
      };
      return ui.send(reply, 200, Confirm({ ctx, data }));
    }
    try {
      await registry.deleteManifest(repo, digest);
      audit(req, ctx, 'delete', repo, digest);
    } catch (e) {
      return ui.fail(reply, ctx, e);
    }
    return done(reply, repo, 'deleted', digest);
  }

  async function retag(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const s = await start(req, reply);
    if (!s) return reply;
    const { ctx, f } = s;
    const repo = repoOf(req, 'retag');
    if (!repo) return ui.send(reply, 404, ErrorPage({ ctx, title: 'Not found', message: 'No such repository.' }));
    if (!ctx.viewer.can(repo, 'push') || !ctx.viewer.can(repo, 'pull'))
      return ui.denied(reply, ctx, `You may not push to ${repo}.`);
    const from = (f.get('from') ?? '').trim();
    const to = (f.get('to') ?? '').trim();
    if (!isTag(to) || !(isTag(from) || isDigest(from))) {
      const message = 'Give an existing tag or digest, and a new tag (letters, digits, _ . -; up to 128).';
      return ui.send(reply, 400, ErrorPage({ ctx, title: 'Bad tag', message }));
    }
    try {
      const { record, bytes: body } = await registry.getManifest(repo, from);
      const existing = await meta.manifests.resolveTag(repo, to);
      if (existing && existing.digest !== record.digest && f.get('confirm') !== 'yes') {
        const data = {
          title: `Move tag ${to}?`,
          action: `/ui/r/${repo}/retag`,
          fields: [
            ['from', from],
            ['to', to],
          ] as [string, string][],
          button: `Move ${to}`,
          cancel: `/ui/r/${repo}`,
          children: <p>{`${repo}:${to} points at ${existing.digest} now; it will point at ${record.digest}.`}</p>,
        };
        return ui.send(reply, 200, Confirm({ ctx, data }));
      }
      await registry.putManifest(repo, to, record.mediaType, body);
      audit(req, ctx, 'push', repo, to);
    } catch (e) {
      return ui.fail(reply, ctx, e);
    }
    return done(reply, repo, 'tagged', `${to}`);
  }
}
