#!/usr/bin/env node
// Web UI budgets: Server-Timing medians (and p95) of the tags page of a 10,000-tag and a 100,000-tag repository
// (sorts and filters), the repository list of 10,000 repositories, a manifest page and the dashboard, on `kura serve`'s
// own stores (SQLite + filesystem, in this process); the process's CPU time per request (client and server: on a
// shared machine the wall time waits for other work, CPU time does not); SQL statements; gzip sizes of JS and CSS.
// Data is written straight into the metadata store (src/test/ui-seed.ts). Needs `npm run build` first.
//
// With Debian's chromium present (playwright-core drives it, as the UI test does), also the browser's load time of
// a 100-row tags page on loopback (navigation start to the load event; budget 300 ms), fresh page each time.
//
//   node bench/ui.mjs [--tags 10000] [--big-tags 100000] [--repos 10000] [--runs 20]   (--big-tags 0: no 100k repository)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { createServer } from '../dist/server/index.js';
import { CSS, JS } from '../dist/ui/assets.js';
import { countStatements, seedRepositories, seedTags } from '../dist/test/ui-seed.js';
import { makeImage, pushImage, rawRequest } from '../dist/test/testkit.js';

const { values: opt } = parseArgs({
  options: {
    tags: { type: 'string', default: '10000' },
    'big-tags': { type: 'string', default: '100000' },
    repos: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '20' },
  },
});
const runs = Number(opt.runs);
const data = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-ui-'));
const server = await createServer({
  config: { data, storage: { driver: 'fs' }, metadata: { driver: 'sqlite' }, audit: { enabled: false } },
});
const http = { req: (m, p, o) => rawRequest(server.url, undefined, m, p, o) };

try {
  let t = Date.now();
  await seedTags(server.stores.meta, 'big/tags', Number(opt.tags));
  const bigTags = Number(opt['big-tags']);
  if (bigTags > 0) await seedTags(server.stores.meta, 'huge/tags', bigTags);
  await seedRepositories(server.stores.meta, 'many', Number(opt.repos));
  const img = makeImage({ layers: 5 });
  await pushImage(http, 'bench/image', img, 'v1');
  console.error(`seeded in ${Date.now() - t} ms`);

  const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  const rows = [];
  async function measure(label, url, budget) {
    const times = [];
    const cpu = [];
    let statements = 0;
    let htmlBytes = 0;
    for (let i = 0; i < runs + 2; i++) {
      const before = process.cpuUsage();
      const { result: res, statements: n } = await countStatements(() => http.req('GET', url));
      const used = process.cpuUsage(before);
      if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
      const ms = Number(/dur=([\d.]+)/.exec(String(res.headers['server-timing']))?.[1]);
      if (i >= 2) {
        // two warm-up requests (the UI module loads on the first)
        times.push(ms);
        cpu.push((used.user + used.system) / 1000);
      }
      statements = n;
      htmlBytes = res.body.length;
    }
    const cpuMedian = quantile(cpu, 0.5);
    rows.push({
      label,
      budget,
      url,
      median: quantile(times, 0.5),
      p95: quantile(times, 0.95),
      cpuMedian,
      statements,
      htmlBytes,
    });
  }
  await measure('dashboard', '/ui', 100);
  await measure('repository list (first 100)', '/ui/repos', 100);
  await measure('repository list, search', '/ui/repos?q=many/0999', 100);
  // Every sort, filters (a glob, a substring, a rare substring) and a later page (a cursor) of each repository.
  const tagQueries = [
    '',
    '?sort=pushed',
    '?sort=name',
    '?sort=-name',
    '?sort=natural',
    '?sort=-natural',
    '?sort=semver',
    '?sort=-semver',
    '?q=build-1*',
    '?q=rel&sort=-name&after=rel-5000-rc.2',
    '?q=999&sort=natural',
    '?sort=-semver&after=v2.5.1500',
  ];
  for (const q of tagQueries) {
    await measure(`tags page, 100 rows ${q || '(pushed, newest first)'}`, `/ui/r/big/tags${q}`, 50);
  }
  await measure('tags page, 1000 rows', '/ui/r/big/tags?n=1000', null);
  if (bigTags > 0) {
    for (const q of tagQueries) {
      await measure(`${bigTags} tags, 100 rows ${q || '(pushed, newest first)'}`, `/ui/r/huge/tags${q}`, 100);
    }
    await measure(`${bigTags} tags, 1000 rows`, '/ui/r/huge/tags?n=1000', 200);
  }
  await measure('manifest page', '/ui/r/bench/image/t/v1', 50);

  const loads = [];
  const CHROMIUM = '/usr/bin/chromium';
  if (existsSync(CHROMIUM)) {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const pages = [[`tags page of ${opt.tags}, 100 rows`, '/ui/r/big/tags']];
      if (bigTags > 0) pages.push([`tags page of ${bigTags}, 100 rows`, '/ui/r/huge/tags']);
      for (const [label, url] of pages) {
        const times = [];
        for (let i = 0; i < runs + 2; i++) {
          const page = await browser.newPage();
          const res = await page.goto(server.url + url, { waitUntil: 'load' });
          if (res?.status() !== 200) throw new Error(`${url}: ${res?.status()} in chromium`);
          const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0].toJSON());
          if (process.env.KURA_BENCH_NAV) {
            const res = await page.evaluate(() =>
              performance.getEntriesByType('resource').map((r) => [r.name, r.startTime, r.responseEnd]),
            );
            console.error(JSON.stringify({ ...nav, res }));
          }
          const ms = nav.loadEventEnd;
          await page.close();
          if (i >= 2) times.push(ms);
        }
        loads.push({ label, median: quantile(times, 0.5), p95: quantile(times, 0.95) });
      }
    } finally {
      await browser.close();
    }
  }

  console.log(
    `| page | budget (ms) | server time median (ms) | p95 (ms) | CPU median (ms) | SQL statements | HTML bytes |`,
  );
  console.log(`|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const cells = [
      r.budget ?? '–',
      r.median.toFixed(1),
      r.p95.toFixed(1),
      r.cpuMedian.toFixed(1),
      r.statements,
      r.htmlBytes,
    ];
    console.log(`| ${r.label} | ${cells.join(' | ')} |`);
  }
  if (loads.length > 0) {
    console.log(`\n| chromium load (budget 300 ms) | median (ms) | p95 (ms) |\n|---|---|---|`);
    for (const l of loads) console.log(`| ${l.label} | ${l.median.toFixed(1)} | ${l.p95.toFixed(1)} |`);
  } else console.log('\nchromium load: not measured (/usr/bin/chromium is missing)');
  console.log(
    `\nJS ${JS.length} B (${gzipSync(JS).length} B gzip), CSS ${CSS.length} B (${gzipSync(CSS).length} B gzip)`,
  );
  console.log(`${runs} requests per row; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model}`);
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await server.close();
  rmSync(data, { recursive: true, force: true });
}
