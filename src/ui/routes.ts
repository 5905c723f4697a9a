// The web UI's GET pages: dashboard, repositories, tags, manifests, sign-in, theme, assets, operator pages.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ScanCounts, UsageReport } from '../metadata/types.js';
import { isDigest } from '../oci/digest.js';
import { isRepositoryName, isTag } from '../oci/names.js';
import { ASSETS, CSS, JS } from './assets.js';
import type { Ctx } from './context.js';
import { nameFilter } from './format.js';
import { IMAGE_VIEWS, imageHandlers } from './image-routes.js';
import { manifestView } from './manifest-data.js';
import { AuditPage, GcPage, PoliciesPage, UsagePage } from './pages/admin.js';
import { Dashboard } from './pages/dashboard.js';
import { ManifestPage } from './pages/manifest.js';
import { RepoPage } from './pages/repo.js';
import { Repos } from './pages/repos.js';
import { ErrorPage, Login } from './pages/simple.js';
import { RECENT_TAGS, worstLine } from './scan-counts.js';
import type { UiRequests } from './request.js';
import { THEME_COOKIE } from './session.js';
import { PAGE_SIZES, TAG_SORTS, tagsPage, type TagSort } from './tags.js';

/** How long the dashboard shows the same storage figures (docs/ui.md). */
const USAGE_TTL_MS = 60_000;

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

const NOTICES: Record<string, (what: string) => string> = {
  untagged: (w) => `Removed tag ${w}; the manifest and its other tags stay.`,
  deleted: (w) => `Deleted manifest ${w} and its tags.`,
  tagged: (w) => `Tagged ${w}.`,
};

/** A path under /ui to go back to after a form (never another site). */
export function safeBack(back: string | null | undefined): string {
  return back && /^\/ui(?:[/?#]|$)/.test(back) && !back.includes('\\') && !back.includes('//') ? back : '/ui';
}

/** /ui/r/REPO, /ui/r/REPO/t/TAG, /ui/r/REPO/m/DIGEST, read from the right; null when no repository is named. */
export function parseRepoPath(rest: string): { repo: string; tag?: string; digest?: string; view?: string } | null {
  const parts = rest.split('/');
  if (parts.length >= 4 && (IMAGE_VIEWS as readonly string[]).includes(parts.at(-1)!)) {
    const [kind, ref, view] = parts.slice(-3) as [string, string, string];
    const repo = parts.slice(0, -3).join('/');
    if (kind === 'm' && isDigest(ref) && isRepositoryName(repo)) return { repo, digest: ref, view };
  }
  if (parts.length >= 3) {
    const [kind, ref] = parts.slice(-2) as [string, string];
    const repo = parts.slice(0, -2).join('/');
    if (kind === 't' && isTag(ref) && isRepositoryName(repo)) return { repo, tag: ref };
    if (kind === 'm' && isDigest(ref) && isRepositoryName(repo)) return { repo, digest: ref };
  }
  return isRepositoryName(rest) ? { repo: rest } : null;
}

function query(req: FastifyRequest): URLSearchParams {
  return req.kura.query;
}

function pageSize(v: string | null, allowed: readonly number[], fallback: number): number {
  const n = Number(v);
  return allowed.includes(n) ? n : fallback;
}

export function pageHandlers(ui: UiRequests): Record<string, Handler> {
  const { registry, meta } = ui.deps;
  const mustSignIn = (reply: FastifyReply, ctx: Ctx) =>
    ctx.viewer.name === null && ctx.viewer.authEnabled
      ? reply.redirect(`/ui/login?back=${encodeURIComponent(ctx.path)}`, 303)
      : null;
  const imageView = imageHandlers(ui);
  const notAdmin = (reply: FastifyReply, ctx: Ctx) =>
    mustSignIn(reply, ctx) ?? ui.denied(reply, ctx, 'This page is for registry administrators.');
  // The dashboard's storage figures: the usage report walks every blob link, so it is kept for a minute.
  let usage: { at: number; report: Promise<UsageReport> } | null = null;
  const cachedUsage = (): Promise<UsageReport> => {
    if (!usage || Date.now() - usage.at > USAGE_TTL_MS) {
      const report = registry.usageReport();
      usage = { at: Date.now(), report };
      report.catch(() => (usage = null));
    }
    return usage.report;
  };

  return {
    async dashboard(req, reply) {
      const ctx = await ui.ctx(req, reply);
      const names = (await meta.manifests.listRepositories({})).filter((r) => ctx.viewer.can(r, 'pull'));
      const admin = ctx.viewer.adminRead;
      const [usage, recent] = await Promise.all([
        admin ? cachedUsage() : null,
        admin ? registry.listAudit({ limit: 10 }) : null,
      ]);
      return ui.send(reply, 200, Dashboard({ ctx, data: { repositories: names.length, usage, recent } }));
    },

    async repos(req, reply) {
      const ctx = await ui.ctx(req, reply);
      const q = query(req);
      const text = (q.get('q') ?? '').slice(0, 200);
      const sort = q.get('sort') === '-name' ? '-name' : 'name';
      const n = pageSize(q.get('n'), PAGE_SIZES, 100);
      const after = q.get('after');
      const keep = nameFilter(text);
      let names = (await meta.manifests.listRepositories({})).filter((r) => keep(r) && ctx.viewer.can(r, 'pull'));
      if (sort === '-name') names.reverse();
      const matched = names.length;
      if (after !== null) names = names.filter((r) => (sort === 'name' ? r > after : r < after));
      const shown = names.slice(0, n);
      const next = names.length > n ? shown.at(-1)! : null;
      const byRepo = new Map<string, ScanCounts[]>();
      for (const s of await meta.scans.repositoryScans(shown, RECENT_TAGS)) {
        const list = byRepo.get(s.repository);
        if (list) list.push(s);
        else byRepo.set(s.repository, [s]);
      }
      const vulns = new Map([...byRepo].map(([r, scans]) => [r, worstLine(scans, 'images')]));
      const data = { q: text, sort, n, names: shown, vulns, matched, next, paged: after !== null } as const;
      return ui.send(reply, 200, Repos({ ctx, data }));
    },

    async repo(req, reply) {
      const ctx = await ui.ctx(req, reply);
      const target = parseRepoPath((req.params as { '*': string })['*']);
      if (!target) return ui.send(reply, 404, ErrorPage({ ctx, title: 'Not found', message: 'No such page.' }));
      const { repo } = target;
      if (!ctx.viewer.can(repo, 'pull'))
        return mustSignIn(reply, ctx) ?? ui.denied(reply, ctx, `You may not pull from ${repo}.`);
      if (target.view !== undefined)
        return imageView(req, reply, ctx, { repo, digest: target.digest!, view: target.view });
      if (target.tag !== undefined || target.digest !== undefined) {
        try {
          const v = await manifestView(registry, meta, repo, target.tag ?? target.digest!);
          return ui.send(reply, 200, ManifestPage({ ctx, v }));
        } catch (e) {
          return ui.fail(reply, ctx, e);
        }
      }
      const q = query(req);
      const sortParam = q.get('sort') as TagSort | null;
      const tq = {
        q: (q.get('q') ?? '').slice(0, 200),
        sort: sortParam && TAG_SORTS.includes(sortParam) ? sortParam : ('-pushed' as const),
        after: q.get('after'),
        n: pageSize(q.get('n'), PAGE_SIZES, 100),
      };
      const page = await tagsPage(meta, repo, tq);
      if (!page) {
        const message = `The repository ${repo} does not exist (or holds nothing yet).`;
        return ui.send(reply, 404, ErrorPage({ ctx, title: 'Not found', message }));
      }
      const done = NOTICES[q.get('done') ?? ''];
      const what = q.get('what') ?? '';
      const notice = done && /^[\w.:@, -]{1,2000}$/.test(what) ? done(what) : null;
      return ui.send(reply, 200, RepoPage({ ctx, data: { repo, query: tq, page, notice } }));
    },

    async login(req, reply) {
      const ctx = await ui.ctx(req, reply);
      const back = safeBack(query(req).get('back'));
      if (!ctx.viewer.authEnabled) {
        const message = 'Authentication is off on this registry: everyone has every right the API gives.';
        return ui.send(reply, 404, ErrorPage({ ctx, title: 'Sign in', message }));
      }
      return ui.send(reply, 200, Login({ ctx, error: null, back }));
    },

    async theme(req, reply) {
      const q = query(req);
      const set = q.get('set');
      const value = set === 'light' || set === 'dark' ? set : '';
      const attrs = `Path=/ui; SameSite=Strict; HttpOnly${ui.deps.tls ? '; Secure' : ''}`;
      reply.header('set-cookie', `${THEME_COOKIE}=${value}; ${attrs}${value ? '; Max-Age=31536000' : '; Max-Age=0'}`);
      return reply.redirect(safeBack(q.get('back')), 303);
    },

    async asset(req, reply) {
      const path = req.kura.path;
      const [body, type] =
        path === ASSETS.css ? [CSS, 'text/css'] : path === ASSETS.js ? [JS, 'text/javascript'] : [null, ''];
      if (body === null) return reply.code(404).header('content-type', 'text/plain').send('no such asset\n');
      return reply
        .header('content-type', `${type}; charset=utf-8`)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(body);
    },

    async usage(req, reply) {
      const ctx = await ui.ctx(req, reply);
      if (!ctx.viewer.adminRead) return notAdmin(reply, ctx);
      return ui.send(reply, 200, UsagePage({ ctx, report: await registry.usageReport() }));
    },

    async audit(req, reply) {
      const ctx = await ui.ctx(req, reply);
      if (!ctx.viewer.adminRead) return notAdmin(reply, ctx);
      const q = query(req);
      const actor = (q.get('actor') ?? '').slice(0, 200);
      const repo = (q.get('repository') ?? '').slice(0, 300);
      const events = await registry.listAudit({
        limit: 200,
        ...(actor ? { actor } : {}),
        ...(repo ? { repository: repo } : {}),
      });
      return ui.send(reply, 200, AuditPage({ ctx, events, enabled: ui.deps.audit, actor, repo }));
    },

    async gc(req, reply) {
      const ctx = await ui.ctx(req, reply);
      if (!ctx.viewer.adminRead) return notAdmin(reply, ctx);
      return ui.send(reply, 200, GcPage({ ctx, result: null }));
    },

    async policies(req, reply) {
      const ctx = await ui.ctx(req, reply);
      if (!ctx.viewer.adminRead) return notAdmin(reply, ctx);
      return ui.send(reply, 200, PoliciesPage({ ctx, plan: await registry.planRetention() }));
    },

    async notFound(req, reply) {
      const ctx = await ui.ctx(req, reply);
      return ui.send(reply, 404, ErrorPage({ ctx, title: 'Not found', message: 'No such page.' }));
    },
  };
}
