// The benchmark scenarios. Each run(server, ctx) returns { metrics, notes } for one fresh server process.
import { Client, pool, nextLink, HttpError } from './http.mjs';
import { pushBlob, putManifest, pushImage } from './ops.mjs';
import { measure } from './servers.mjs';
import { runWrk } from './wrk.mjs';
import { runRawLoad } from './rawload.mjs';
import {
  randomStream,
  streamDigest,
  randomBytes,
  blob,
  configBlob,
  manifestFor,
  smallImages,
  tinyImage,
  DOCKER_ACCEPT,
} from './data.mjs';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** A metric row. better: 'higher' | 'lower' | 'info' (no verdict). */
function metric(key, label, value, unit, better, extra = {}) {
  return { key, label, value, unit, better, ...extra };
}

const round = (x, d = 2) => (Number.isFinite(x) ? Number(x.toFixed(d)) : x);

function wrkMetrics(prefix, label, w, m) {
  return [
    metric(`${prefix}.rps`, `${label} rate`, round(w.rps, 0), 'req/s', 'higher'),
    metric(`${prefix}.p99`, `${label} p99 latency`, round(w.lat_p99_us / 1000, 2), 'ms', 'lower'),
    metric(`${prefix}.cpu`, `${label} server CPU per request`, round((m.cpuMs * 1000) / w.requests, 1), 'µs', 'lower'),
    metric(`${prefix}.rss`, `${label} peak RSS`, round(m.peakRssKiB / 1024, 1), 'MiB', 'lower'),
  ];
}

function wrkNotes(w) {
  return {
    requests: w.requests,
    non2xx3xx: w.non2xx3xx,
    statusErrors: w.err_status,
    socketErrors: w.socketErrors,
    meanLatencyMs: round(w.lat_mean_us / 1000, 3),
    p50LatencyMs: round(w.lat_p50_us / 1000, 3),
    mibPerSec: round(w.mibps, 1),
  };
}

/** wrk run inside measure(); fails the scenario when any response was not 2xx/3xx. */
async function wrkPhase(srv, ctx, path, opts, what) {
  // wrk cannot do HEAD (it waits for a body that never comes): HEAD uses the raw-socket generator instead.
  const m = await measure(srv, () =>
    opts.method === 'HEAD'
      ? runRawLoad(srv.base, path, { method: 'HEAD', seconds: ctx.sizes.wrkSeconds, connections: 32 })
      : runWrk(srv.base + path, { seconds: ctx.sizes.wrkSeconds, ...opts }),
  );
  const w = m.result;
  if (w.non2xx3xx > 0 || w.requests === 0) {
    // Find out what a single request returns, to report it.
    const c = new Client(srv.base, 1);
    const headers = opts.accept?.length ? { accept: opts.accept } : {};
    const r = await c.request(opts.method ?? 'GET', path, { headers });
    c.close();
    throw new HttpError(
      `${what} under wrk: ${w.non2xx3xx} of ${w.requests} responses not 2xx/3xx; a single request`,
      r,
      [200],
    );
  }
  return { w, m };
}

/**
 * Walk a paginated list (tags or catalog) from firstPath following Link rel="next".
 * Returns { pages, entries, maxPage }.
 */
async function walk(c, firstPath, field, what) {
  let path = firstPath;
  const entries = [];
  let pages = 0;
  let maxPage = 0;
  const seen = new Set();
  while (path) {
    if (seen.has(path)) throw new Error(`${what}: Link header loops back to ${path}`);
    seen.add(path);
    const r = await c.expect(what, [200], 'GET', path);
    const list = JSON.parse(r.body.toString())[field] ?? [];
    entries.push(...list);
    pages++;
    maxPage = Math.max(maxPage, list.length);
    path = nextLink(r.headers.link);
    if (pages > 100000) throw new Error(`${what}: more than 100000 pages`);
  }
  return { pages, entries, maxPage };
}

/** Measure repeated page walks for at least ctx.sizes.walkSeconds (and 3 walks). */
async function walkPhase(srv, ctx, c, firstPath, field, expected, what) {
  let walks = 0;
  let last;
  const m = await measure(srv, async () => {
    const t0 = performance.now();
    while (walks < 3 || performance.now() - t0 < ctx.sizes.walkSeconds * 1000) {
      last = await walk(c, firstPath, field, what);
      walks++;
    }
  });
  const uniq = new Set(last.entries);
  const sorted = last.entries.every((e, i, a) => i === 0 || a[i - 1] < e);
  const missing = expected.filter((e) => !uniq.has(e)).length;
  return {
    m,
    walks,
    info: {
      pages: last.pages,
      largestPage: last.maxPage,
      entriesSeen: last.entries.length,
      unique: uniq.size,
      missingOfExpected: missing,
      sortedAscending: sorted,
      complete: missing === 0 && uniq.size === last.entries.length,
    },
  };
}

/** Does the server honour n and last? Checked with explicit requests. */
async function paginationCheck(c, listPath, field, sortedExpected) {
  const sep = listPath.includes('?') ? '&' : '?';
  const r1 = await c.request('GET', `${listPath}${sep}n=10`);
  const out = { nStatus: r1.status };
  if (r1.status === 200) {
    const l = JSON.parse(r1.body.toString())[field] ?? [];
    out.nReturned = l.length;
    out.honoursN = l.length === 10;
    out.linkOnFirstPage = Boolean(nextLink(r1.headers.link));
  } else out.nBody = r1.body.toString().slice(0, 300);
  const last = sortedExpected[99];
  const r2 = await c.request('GET', `${listPath}${sep}n=10&last=${encodeURIComponent(last)}`);
  out.lastStatus = r2.status;
  if (r2.status === 200) {
    const l = JSON.parse(r2.body.toString())[field] ?? [];
    out.honoursLast = l[0] === sortedExpected[100];
    out.lastFirstEntry = l[0] ?? null;
  } else out.lastBody = r2.body.toString().slice(0, 300);
  return out;
}

export const SCENARIOS = [
  {
    name: 'big-layer',
    abba: true,
    title: (s) => `push + pull of one ${s.layerBytes / MiB} MiB layer`,
    async run(srv, ctx) {
      const c = new Client(srv.base, 2);
      try {
        const repo = 'bench/big';
        const L = ctx.bigLayer();
        const push = await measure(srv, () =>
          pushBlob(c, repo, { ...L, stream: () => randomStream('big-layer', L.size) }),
        );
        const cfg = configBlob([L], 'big');
        await pushBlob(c, repo, cfg);
        await putManifest(c, repo, 'latest', manifestFor(cfg, [L]));
        const head = await c.expect('blob HEAD', [200], 'HEAD', `/v2/${repo}/blobs/${L.digest}`);
        if (Number(head.headers['content-length']) !== L.size)
          throw new Error(`blob HEAD Content-Length ${head.headers['content-length']} != ${L.size}`);
        const pulls = ctx.sizes.pulls;
        const pull = await measure(srv, async () => {
          for (let i = 0; i < pulls; i++) {
            const r = await c.expect('blob GET', [200], 'GET', `/v2/${repo}/blobs/${L.digest}`, { discard: true });
            if (r.bytes !== L.size) throw new Error(`blob GET returned ${r.bytes} bytes, expected ${L.size}`);
          }
        });
        const pushMiBps = L.size / MiB / (push.wallMs / 1000);
        const pulled = L.size * pulls;
        return {
          metrics: [
            metric('push.mibps', 'push throughput', round(pushMiBps, 1), 'MiB/s', 'higher'),
            metric(
              'push.shaFraction',
              'push / single-core sha256 speed',
              round(pushMiBps / ctx.shaMiBps, 3),
              '×',
              'info',
            ),
            metric(
              'push.cpu',
              'push server CPU per GiB',
              round(push.cpuMs / 1000 / (L.size / GiB), 2),
              's/GiB',
              'lower',
            ),
            metric('push.rss', 'push peak RSS', round(push.peakRssKiB / 1024, 1), 'MiB', 'lower'),
            metric('pull.mibps', 'pull throughput', round(pulled / MiB / (pull.wallMs / 1000), 1), 'MiB/s', 'higher'),
            metric(
              'pull.cpu',
              'pull server CPU per GiB',
              round(pull.cpuMs / 1000 / (pulled / GiB), 2),
              's/GiB',
              'lower',
            ),
            metric('pull.rss', 'pull peak RSS', round(pull.peakRssKiB / 1024, 1), 'MiB', 'lower'),
          ],
          notes: {
            layerBytes: L.size,
            digest: L.digest,
            pushSeconds: round(push.wallMs / 1000, 3),
            pushClientCpuMs: round(push.clientCpuMs, 0),
            pushServerCpuUserMs: push.cpuUserMs,
            pushServerCpuSysMs: push.cpuSysMs,
            pulls,
            pullSeconds: round(pull.wallMs / 1000, 3),
            pullServerCpuUserMs: pull.cpuUserMs,
            pullServerCpuSysMs: pull.cpuSysMs,
          },
        };
      } finally {
        c.close();
      }
    },
  },
  {
    name: 'small-images',
    abba: true,
    title: (s) => `${s.images} images × (5 layers 10–200 KiB, 1 shared base) + config + manifest, concurrency 4`,
    async run(srv, ctx) {
      const c = new Client(srv.base, 4);
      try {
        const imgs = ctx.smallImages();
        const repo = 'bench/small';
        const m = await measure(srv, () => pool(imgs, 4, (img) => pushImage(c, repo, img, img.tag)));
        const blobsPushed = m.result.reduce((a, b) => a + b, 0);
        const requests = c.requests;
        // Verify: every tag resolves to its manifest.
        const check = await c.expect('manifest GET', [200], 'GET', `/v2/${repo}/manifests/${imgs.at(-1).tag}`, {
          headers: { accept: DOCKER_ACCEPT },
        });
        if (
          check.headers['docker-content-digest'] &&
          check.headers['docker-content-digest'] !== imgs.at(-1).manifest.digest
        )
          throw new Error(
            `manifest GET digest ${check.headers['docker-content-digest']} != ${imgs.at(-1).manifest.digest}`,
          );
        const bytes = imgs.reduce(
          (a, i) => a + i.layers.slice(1).reduce((x, l) => x + l.size, 0) + i.config.size,
          imgs[0].layers[0].size,
        );
        return {
          metrics: [
            metric(
              'images.rate',
              'images pushed per second',
              round(imgs.length / (m.wallMs / 1000), 1),
              'img/s',
              'higher',
            ),
            metric('images.cpu', 'server CPU per image', round(m.cpuMs / imgs.length, 2), 'ms', 'lower'),
            metric('images.rss', 'peak RSS', round(m.peakRssKiB / 1024, 1), 'MiB', 'lower'),
          ],
          notes: {
            images: imgs.length,
            seconds: round(m.wallMs / 1000, 3),
            blobsUploaded: blobsPushed,
            blobsExpected: imgs.length * 5 + 1,
            requests,
            uniqueBytes: bytes,
          },
        };
      } finally {
        c.close();
      }
    },
  },
  {
    name: 'manifest-get',
    title: (s) => `manifest GET by tag, docker Accept headers, wrk 2 threads × 32 connections × ${s.wrkSeconds} s`,
    async run(srv, ctx) {
      const c = new Client(srv.base, 1);
      try {
        const repo = 'bench/manifest';
        const img = tinyImage('manifest-get', 100 * 1024);
        await pushImage(c, repo, img, 'latest');
        const r = await c.expect('manifest GET', [200], 'GET', `/v2/${repo}/manifests/latest`, {
          headers: { accept: DOCKER_ACCEPT },
        });
        if (!r.body.equals(img.manifest.buf)) throw new Error('manifest GET body differs from the pushed manifest');
        const { w, m } = await wrkPhase(
          srv,
          ctx,
          `/v2/${repo}/manifests/latest`,
          { accept: DOCKER_ACCEPT, acceptJoined: ctx.acceptJoined },
          'manifest GET',
        );
        return {
          metrics: wrkMetrics('get', 'manifest GET', w, m),
          notes: {
            ...wrkNotes(w),
            contentType: r.headers['content-type'],
            acceptMode: ctx.acceptJoined ? 'comma-joined' : 'separate lines',
          },
        };
      } finally {
        c.close();
      }
    },
  },
  {
    name: 'blob-get',
    title: (s) => `1 MiB blob GET, wrk 2 × 32 × ${s.wrkSeconds} s`,
    async run(srv, ctx) {
      const c = new Client(srv.base, 1);
      try {
        const repo = 'bench/blob';
        const b = blob(randomBytes('blob-1mib', MiB));
        await pushBlob(c, repo, b);
        const r = await c.expect('blob GET', [200], 'GET', `/v2/${repo}/blobs/${b.digest}`);
        if (!r.body.equals(b.buf)) throw new Error('blob GET body differs from the pushed blob');
        const { w, m } = await wrkPhase(srv, ctx, `/v2/${repo}/blobs/${b.digest}`, {}, 'blob GET');
        return {
          metrics: [
            ...wrkMetrics('get', 'blob GET', w, m),
            metric('get.mibps', 'blob GET throughput', round(w.mibps, 0), 'MiB/s', 'higher'),
          ],
          notes: wrkNotes(w),
        };
      } finally {
        c.close();
      }
    },
  },
  {
    name: 'blob-head',
    title: (s) => `blob HEAD, 32 keep-alive connections × ${s.wrkSeconds} s (node raw-socket client; wrk cannot HEAD)`,
    async run(srv, ctx) {
      const c = new Client(srv.base, 1);
      try {
        const repo = 'bench/blob';
        const b = blob(randomBytes('blob-1mib', MiB));
        await pushBlob(c, repo, b);
        const r = await c.expect('blob HEAD', [200], 'HEAD', `/v2/${repo}/blobs/${b.digest}`);
        if (Number(r.headers['content-length']) !== b.size)
          throw new Error(`blob HEAD Content-Length ${r.headers['content-length']}`);
        const { w, m } = await wrkPhase(srv, ctx, `/v2/${repo}/blobs/${b.digest}`, { method: 'HEAD' }, 'blob HEAD');
        return { metrics: wrkMetrics('head', 'blob HEAD', w, m), notes: wrkNotes(w) };
      } finally {
        c.close();
      }
    },
  },
  {
    name: 'tags',
    title: (s) => `${s.tags}-tag list: whole-list GET (wrk) and n=100 page walk`,
    async run(srv, ctx) {
      const c = new Client(srv.base, 8);
      try {
        const repo = 'bench/tags';
        const n = ctx.sizes.tags;
        const img = tinyImage('tags');
        await pushImage(c, repo, img, 'base');
        const tags = Array.from({ length: n }, (_, i) => `t${String(i).padStart(5, '0')}`);
        const setup = await measure(srv, () => pool(tags, 8, (t) => putManifest(c, repo, t, img.manifest)));
        const expected = [...tags, 'base'].sort();
        const full = await c.expect('tags list GET', [200], 'GET', `/v2/${repo}/tags/list`);
        const fullList = JSON.parse(full.body.toString()).tags ?? [];
        const pag = await paginationCheck(c, `/v2/${repo}/tags/list`, 'tags', expected);
        const { w, m } = await wrkPhase(srv, ctx, `/v2/${repo}/tags/list`, {}, 'tags list GET');
        const wk = await walkPhase(srv, ctx, c, `/v2/${repo}/tags/list?n=100`, 'tags', expected, 'tags page GET');
        return {
          metrics: [
            metric(
              'setup.rate',
              `tag PUT (manifest by tag), concurrency 8`,
              round(n / (setup.wallMs / 1000), 0),
              'req/s',
              'higher',
            ),
            metric('setup.cpu', 'tag PUT server CPU per request', round((setup.cpuMs * 1000) / n, 0), 'µs', 'lower'),
            metric('list.entries', 'whole tag list GET entries returned', fullList.length, '', 'info'),
            ...wrkMetrics('list', 'whole tag list GET', w, m).map((x) =>
              x.key.endsWith('.rss') ? x : { ...x, sameAs: 'list.entries' },
            ),
            metric('walk.ms', 'n=100 page walk, per walk', round(wk.m.wallMs / wk.walks, 1), 'ms', 'lower', {
              sameAs: 'walk.pages',
            }),
            metric('walk.cpu', 'n=100 page walk server CPU per walk', round(wk.m.cpuMs / wk.walks, 1), 'ms', 'lower', {
              sameAs: 'walk.pages',
            }),
            metric(
              'walk.pages',
              'n=100 walk pages (expect ' + Math.ceil(expected.length / 100) + ')',
              wk.info.pages,
              '',
              'info',
            ),
          ],
          notes: {
            tags: expected.length,
            plainListReturned: fullList.length,
            plainListLink: Boolean(nextLink(full.headers.link)),
            pagination: pag,
            walk: { ...wk.info, walks: wk.walks },
            list: wrkNotes(w),
            listBytes: full.body.length,
          },
        };
      } finally {
        c.close();
      }
    },
  },
  {
    name: 'catalog',
    title: (s) => `${s.repos}-repository catalog: n=100 page walk and plain _catalog GET`,
    async run(srv, ctx) {
      const c = new Client(srv.base, 8);
      try {
        const n = ctx.sizes.repos;
        const cfg = configBlob([], 'catalog');
        const man = manifestFor(cfg, []);
        const repos = Array.from({ length: n }, (_, i) => `catalog/repo-${String(i).padStart(5, '0')}`);
        const setup = await measure(srv, () =>
          pool(repos, 8, async (r) => {
            await pushBlob(c, r, cfg, { monolithic: true });
            await putManifest(c, r, 'latest', man);
          }),
        );
        const expected = [...repos].sort();
        const plain = await c.expect('catalog GET', [200], 'GET', `/v2/_catalog`);
        const plainList = JSON.parse(plain.body.toString()).repositories ?? [];
        const pag = await paginationCheck(c, `/v2/_catalog`, 'repositories', expected);
        const wk = await walkPhase(srv, ctx, c, `/v2/_catalog?n=100`, 'repositories', expected, 'catalog page GET');
        const { w, m } = await wrkPhase(srv, ctx, `/v2/_catalog`, {}, 'catalog GET');
        return {
          metrics: [
            metric(
              'setup.rate',
              'repo create (POST+PUT config, PUT manifest), concurrency 8',
              round(n / (setup.wallMs / 1000), 0),
              'repo/s',
              'higher',
            ),
            metric('walk.ms', 'n=100 page walk, per walk', round(wk.m.wallMs / wk.walks, 1), 'ms', 'lower', {
              sameAs: 'walk.pages',
            }),
            metric('walk.cpu', 'n=100 page walk server CPU per walk', round(wk.m.cpuMs / wk.walks, 1), 'ms', 'lower', {
              sameAs: 'walk.pages',
            }),
            metric('walk.pages', 'n=100 walk pages (expect ' + Math.ceil(n / 100) + ')', wk.info.pages, '', 'info'),
            metric('plain.entries', 'plain _catalog GET entries returned', plainList.length, '', 'info'),
            ...wrkMetrics('plain', 'plain _catalog GET', w, m).map((x) =>
              x.key.endsWith('.rss') ? x : { ...x, sameAs: 'plain.entries' },
            ),
          ],
          notes: {
            repos: n,
            plainReturned: plainList.length,
            plainLink: Boolean(nextLink(plain.headers.link)),
            plainBytes: plain.body.length,
            pagination: pag,
            walk: { ...wk.info, walks: wk.walks },
            plain: wrkNotes(w),
          },
        };
      } finally {
        c.close();
      }
    },
  },
  {
    name: 'mounts',
    title: (s) => `cross-repository mount of one blob into ${s.mounts} new repos, concurrency 4`,
    async run(srv, ctx) {
      const c = new Client(srv.base, 4);
      try {
        const src = 'mount/source';
        const b = blob(randomBytes('mount-blob', MiB));
        await pushBlob(c, src, b);
        const targets = Array.from(
          { length: ctx.sizes.mounts },
          (_, i) => `mount/target-${String(i).padStart(5, '0')}`,
        );
        const statuses = {};
        let firstOther = null;
        const m = await measure(srv, () =>
          pool(targets, 4, async (t) => {
            const r = await c.request('POST', `/v2/${t}/blobs/uploads/?mount=${b.digest}&from=${src}`, {
              headers: { 'content-length': '0' },
            });
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
            if (r.status !== 201 && !firstOther)
              firstOther = {
                method: 'POST',
                path: r.path,
                status: r.status,
                body: r.body.toString().slice(0, 500),
                location: r.headers.location,
              };
          }),
        );
        // Verify a sample of targets now hold the blob.
        let present = 0;
        const sample = targets.filter((_, i) => i % Math.max(1, Math.floor(targets.length / 20)) === 0);
        for (const t of sample) if ((await c.request('HEAD', `/v2/${t}/blobs/${b.digest}`)).status === 200) present++;
        const ok = statuses[201] ?? 0;
        return {
          metrics: [
            metric('mount.rate', 'mounts per second', round(targets.length / (m.wallMs / 1000), 0), 'req/s', 'higher'),
            metric('mount.201', '201 Created rate', round((100 * ok) / targets.length, 1), '%', 'higher'),
            metric('mount.cpu', 'server CPU per mount', round((m.cpuMs * 1000) / targets.length, 0), 'µs', 'lower'),
            metric('mount.rss', 'peak RSS', round(m.peakRssKiB / 1024, 1), 'MiB', 'lower'),
          ],
          notes: { statuses, firstNon201: firstOther, sampleHeadPresent: `${present}/${sample.length}` },
        };
      } finally {
        c.close();
      }
    },
  },
];

/** Lazily computed inputs shared by both servers. */
export function makeContext(sizes, shaMiBps, acceptJoined) {
  let big = null;
  let small = null;
  return {
    sizes,
    shaMiBps,
    acceptJoined,
    bigLayer() {
      if (!big) {
        const t0 = performance.now();
        big = {
          size: sizes.layerBytes,
          digest: streamDigest('big-layer', sizes.layerBytes),
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        };
        process.stderr.write(
          `  (layer digest ${big.digest.slice(0, 19)}… computed in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
        );
      }
      return big;
    },
    smallImages() {
      small ??= smallImages(sizes.images);
      return small;
    },
  };
}
