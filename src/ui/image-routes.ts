// The web UI's pages inside an image: files (tree per layer or merged, waste), diff of two manifests, SBOM
// computed on demand, and the vulnerabilities placeholder. Each needs `pull` on the repository.
import { posix } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { diffImages, type DiffReport } from '../analysis/diff.js';
import { stackLayers } from '../analysis/fs-tree.js';
import type { PathWaste } from '../analysis/waste.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { isOciError } from '../oci/errors.js';
import { isTag } from '../oci/names.js';
import type { Sbom } from '../sbom/model.js';
import type { Ctx } from './context.js';
import { ImageAnalyses } from './image-data.js';
import { DIFF_ROWS, DiffPage, type DiffData } from './pages/diff.js';
import { FILE_ROWS, FilesPage, type FilesData } from './pages/files.js';
import { SbomPage } from './pages/sbom.js';
import { VulnsPage } from './pages/vulns.js';
import { ErrorPage } from './pages/simple.js';
import type { UiRequests } from './request.js';

export const IMAGE_VIEWS = ['files', 'diff', 'sbom', 'vulns'] as const;
export type ImageViewName = (typeof IMAGE_VIEWS)[number];

/** Diff reports and SBOMs kept in memory (each is small next to the indexes behind it). */
const RESULTS_KEPT = 16;

/**
 * A path the files page may show: absolute, no `.` or `..` component, no backslash or NUL; root-relative
 * (`.` the root), or null when it is refused.
 */
export function cleanFilesPath(raw: string): string | null {
  if (!raw.startsWith('/') || raw.length > 4096 || /[\\\0]/.test(raw)) return null;
  const parts = raw.split('/').filter((c) => c !== '');
  if (parts.some((c) => c === '.' || c === '..')) return null;
  return parts.length === 0 ? '.' : posix.join(...parts);
}

function remember<T>(map: Map<string, T>, key: string, value: T): T {
  map.set(key, value);
  while (map.size > RESULTS_KEPT) map.delete(map.keys().next().value!);
  return value;
}

export function imageHandlers(ui: UiRequests) {
  const { registry, meta } = ui.deps;
  const analyses = new ImageAnalyses(registry);
  const diffs = new Map<string, Promise<DiffReport>>();
  const sboms = new Map<string, Sbom>();

  const notFound = (reply: FastifyReply, ctx: Ctx, message: string) =>
    ui.send(reply, 404, ErrorPage({ ctx, title: 'Not found', message }));
  const bad = (reply: FastifyReply, ctx: Ctx, message: string) =>
    ui.send(reply, 400, ErrorPage({ ctx, title: 'Cannot show that', message }));
  const int = (v: string | null, max: number): number | null => {
    if (v === null || v === '') return null;
    return /^\d{1,9}$/.test(v) && Number(v) <= max ? Number(v) : -1;
  };

  async function files(ctx: Ctx, q: URLSearchParams, repo: string, digest: string, reply: FastifyReply) {
    const dir = cleanFilesPath(q.get('path') || '/');
    if (dir === null) return bad(reply, ctx, 'Give an absolute path inside the image, without "." or ".." parts.');
    const index = await analyses.isIndex(repo, digest);
    if (index) return bad(reply, ctx, 'This is an index: open one of its platforms from the manifest page first.');
    const v = await analyses.view(repo, digest);
    const layer = int(q.get('layer'), v.layers.length - 1);
    const page = int(q.get('page'), 1e6) ?? 0;
    if (layer === -1 || page === -1) return bad(reply, ctx, 'No such layer or page.');
    const tree = layer === null ? v.tree : stackLayers(v.layers, layer);
    const dirBytes = layer === null ? v.dirBytes : null;
    const e = tree.get(dir);
    if (!e) return notFound(reply, ctx, `/${dir === '.' ? '' : dir}: no such path in the image.`);
    const byPath = new Map<string, PathWaste>(v.waste.files.map((w) => [w.path, w]));
    const wastedBelow = new Map<string, number>();
    for (const w of v.waste.files) {
      for (let p = posix.dirname(w.path); ; p = posix.dirname(p)) {
        wastedBelow.set(p, (wastedBelow.get(p) ?? 0) + w.wasted);
        if (p === '.') break;
      }
    }
    const sizeOf = (x: typeof e) => {
      if (x.type !== 'dir') return x.size;
      if (dirBytes) return dirBytes.get(x.path) ?? 0;
      return tree.below(x.path).reduce((s, b) => s + (b.type === 'file' ? b.size : 0), 0);
    };
    const sort = q.get('sort') === 'name' ? 'name' : 'size';
    const entries = e.type === 'dir' ? tree.children(dir) : [e];
    const rows = entries.map((x) => ({
      e: x,
      size: sizeOf(x),
      waste: byPath.get(x.path),
      wastedBelow: x.type === 'dir' ? (wastedBelow.get(x.path) ?? 0) : 0,
    }));
    rows.sort((a, b) =>
      sort === 'size' && a.size !== b.size ? b.size - a.size : a.e.path < b.e.path ? -1 : a.e.path > b.e.path ? 1 : 0,
    );
    const d: FilesData = {
      repo,
      digest,
      dir: e.type === 'dir' ? dir : posix.dirname(dir),
      layer,
      sort,
      page,
      rows: rows.slice(page * FILE_ROWS, (page + 1) * FILE_ROWS),
      total: rows.length,
      layers: v.waste.layers.map((s, i) => ({ ...s, digest: v.image.layers[i]?.descriptor.digest ?? '' })),
      efficiency: v.waste.efficiency,
      wastedBytes: v.waste.wastedBytes,
      topWaste: v.waste.files.slice(0, 20),
    };
    return ui.send(reply, 200, FilesPage({ ctx, d }));
  }

  async function diff(ctx: Ctx, q: URLSearchParams, repo: string, digest: string, reply: FastifyReply) {
    const other = (q.get('with') ?? '').trim();
    const kind: DiffData['kind'] = (['A', 'D', 'C'] as const).find((k) => k === q.get('kind')) ?? '';
    const page = int(q.get('page'), 1e6) ?? 0;
    if (page === -1) return bad(reply, ctx, 'No such page.');
    const tags = ((await meta.manifests.tagDetails(repo)) ?? []).map((t) => t.name).sort();
    const base = { repo, digest, with: other, kind, page, tags, report: null, files: [], matched: 0 };
    if (!other) return ui.send(reply, 200, DiffPage({ ctx, d: base }));
    if (!isTag(other) && !isDigest(other)) return bad(reply, ctx, 'Compare with a tag or a digest of this repository.');
    const b = await registry.statManifest(repo, other);
    const key = `${repo}@${digest}..${b.digest}`;
    let report = diffs.get(key);
    if (!report) {
      report = (async () => {
        const ra = await analyses.resolve(repo, digest);
        // Of an index, the child for this image's platform; an image as it is (of any platform, as kura diff).
        const rb = await analyses.resolve(
          repo,
          b.digest,
          (await analyses.isIndex(repo, b.digest)) ? ra.config : undefined,
        );
        await analyses.indexes(ra);
        await analyses.indexes(rb);
        return analyses.heavy(() => diffImages(ra, rb, { cache: analyses.cache }));
      })();
      report.catch(() => diffs.delete(key));
      remember(diffs, key, report);
    }
    const r = await report;
    const matched = kind ? r.files.filter((f) => f.kind === kind) : r.files;
    const files = matched.slice(page * DIFF_ROWS, (page + 1) * DIFF_ROWS);
    return ui.send(reply, 200, DiffPage({ ctx, d: { ...base, report: r, files, matched: matched.length } }));
  }

  async function sbom(ctx: Ctx, q: URLSearchParams, repo: string, digest: string, reply: FastifyReply) {
    const index = await analyses.isIndex(repo, digest);
    const d = { repo, digest, sbom: null as Sbom | null, children: [] as { digest: string; platform: string }[] };
    if (index) {
      const doc = JSON.parse(index.manifest.toString('utf8')) as {
        manifests?: { digest: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
      };
      d.children = (doc.manifests ?? [])
        .filter((m) => isDigest(m.digest) && m.platform?.os !== 'unknown')
        .map((m) => ({
          digest: m.digest,
          platform: [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join('/') || '?',
        }));
      return ui.send(reply, 200, SbomPage({ ctx, d }));
    }
    const key = `${repo}@${digest}`;
    d.sbom = sboms.get(key) ?? null;
    if (!d.sbom && q.get('compute') === '1') {
      const r = await analyses.resolve(repo, digest);
      const { catalogImage } = await import('../sbom/catalog.js');
      d.sbom = remember(sboms, key, await analyses.heavy(() => catalogImage(r, { name: `${repo}@${digest}` })));
    }
    return ui.send(reply, 200, SbomPage({ ctx, d }));
  }

  const views: Record<ImageViewName, typeof files> = {
    files,
    diff,
    sbom,
    vulns: async (ctx, _q, repo, digest, reply) => {
      await registry.statManifest(repo, digest);
      const scan = await meta.scans.get(digest as Digest);
      return ui.send(reply, 200, VulnsPage({ ctx, repo, digest, scan }));
    },
  };

  /** Serves one image view; registry errors (unknown manifest, over a cap) become error pages. */
  return async (
    req: FastifyRequest,
    reply: FastifyReply,
    ctx: Ctx,
    t: { repo: string; digest: string; view: string },
  ) => {
    try {
      return await views[t.view as ImageViewName](ctx, req.kura.query, t.repo, t.digest, reply);
    } catch (e) {
      if (isOciError(e) || !(e instanceof Error)) return ui.fail(reply, ctx, e);
      // Layers that are no tar (an artifact's blobs), a malformed archive: the page says so instead of a 500.
      const message = `Kura could not read this image's layers: ${e.message.slice(0, 500)}`;
      return ui.send(reply, 422, ErrorPage({ ctx, title: 'Cannot read this image', message }));
    }
  };
}
