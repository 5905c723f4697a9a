#!/usr/bin/env node
// The pull-through cache against plain pulls: an upstream `kura serve`, a second `kura serve` caching it
// (proxy.upstreams) and, when /usr/bin/docker-registry is installed, Distribution in proxy mode
// (proxy.remoteurl) caching the same upstream. Each pull is a manifest GET then every blob GET (4 at a
// time, bodies drained). Prints a markdown table of median wall times:
//   plain pull from Kura (pushed there)     vs cache hit through Kura's proxy (and through registry:2's),
//   direct pull from the upstream (cold)    vs cold pull through Kura's proxy (and through registry:2's).
//
//   npm run build && node bench/proxy.mjs [--runs 7] [--layers 4] [--layer-mib 8]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { kuraMain } from './lib/kura.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const runs = opt('--runs', 7);
const layers = opt('--layers', 4);
const layerMiB = opt('--layer-mib', 8);
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-proxy-'));
const children = [];
const port = () => 20000 + Math.floor(Math.random() * 30000);

async function waitUp(base) {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/v2/`)).status < 500) return;
    } catch {
      if (i > 200) throw new Error(`${base} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function kura(name, config) {
  const p = port();
  const file = path.join(dir, `${name}.yml`);
  writeFileSync(file, `listen: 127.0.0.1:${p}\ndata: ${path.join(dir, name)}\nlog:\n  level: warn\n${config}`);
  children.push(spawn(process.execPath, [kuraMain(), 'serve', '-c', file], { stdio: 'inherit' }));
  const base = `http://127.0.0.1:${p}`;
  await waitUp(base);
  return base;
}

async function distributionProxy(remote) {
  const p = port();
  const file = path.join(dir, 'registry2.yml');
  writeFileSync(
    file,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n` +
      `    rootdirectory: ${path.join(dir, 'registry2')}\nhttp:\n  addr: 127.0.0.1:${p}\nproxy:\n  remoteurl: ${remote}\n`,
  );
  children.push(spawn('/usr/bin/docker-registry', ['serve', file], { stdio: 'ignore' }));
  const base = `http://127.0.0.1:${p}`;
  await waitUp(base);
  return base;
}

/** One pull: the manifest, then its config and layers, four at a time. Returns milliseconds. */
async function pull(base, repo, tag) {
  const t0 = performance.now();
  const m = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT } });
  if (!m.ok) throw new Error(`${base}/v2/${repo}/manifests/${tag}: ${m.status} ${await m.text()}`);
  const doc = await m.json();
  const queue = [doc.config, ...doc.layers].map((d) => d.digest);
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        const r = await fetch(`${base}/v2/${repo}/blobs/${d}`);
        if (!r.ok) throw new Error(`${repo} ${d}: ${r.status}`);
        for await (const _ of r.body);
      }
    }),
  );
  return performance.now() - t0;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${ms.toFixed(1)} ms`;

try {
  const { RegistryClient, randomImage } = await import(pathToFileURL(path.join(root, 'dist/ocikura.js')).href);
  const upstream = await kura('upstream', '');
  const cache = await kura(
    'cache',
    `proxy:\n  upstreams:\n    - name: up\n      url: ${upstream}\n      allowPrivate: true\n      ttl: 1h\n`,
  );
  const r2 = existsSync('/usr/bin/docker-registry') ? await distributionProxy(upstream) : undefined;
  const push = async (base, repo, seed) =>
    new RegistryClient({ registry: new URL(base).host })
      .repository(repo)
      .write('v1', await randomImage({ seed, layers, layerSize: layerMiB << 20, compression: 'none' }));
  // Cold pulls need an image nobody has pulled: one per run and per puller.
  const pullers = { direct: upstream, kura: `${cache}`, ...(r2 ? { registry2: r2 } : {}) };
  const cold = Object.fromEntries(Object.keys(pullers).map((k) => [k, []]));
  const hit = Object.fromEntries(Object.keys(pullers).map((k) => [k, []]));
  let seed = 100;
  for (let i = 0; i < runs; i++) {
    for (const [who, base] of Object.entries(pullers)) {
      const repo = `bench/${who}${i}`;
      await push(upstream, repo, seed++);
      const name = who === 'kura' ? `up/${repo}` : repo;
      cold[who].push(await pull(base, name, 'v1'));
      hit[who].push(await pull(base, name, 'v1'));
    }
  }
  await push(cache, 'bench/plain', seed++);
  const plain = [];
  for (let i = 0; i < runs; i++) plain.push(await pull(cache, 'bench/plain', 'v1'));
  const mib = layers * layerMiB;
  console.log(`| pull of one image (${layers} × ${layerMiB} MiB layers, ${mib} MiB), median of ${runs} | time |`);
  console.log('|---|---|');
  console.log(`| plain pull from Kura (pushed there) | ${fmt(median(plain))} |`);
  console.log(`| cache hit through Kura's proxy | ${fmt(median(hit.kura))} |`);
  if (r2) console.log(`| cache hit through registry:2 in proxy mode | ${fmt(median(hit.registry2))} |`);
  console.log(`| pull directly from the upstream (first pull) | ${fmt(median(cold.direct))} |`);
  console.log(`| cold pull through Kura's proxy | ${fmt(median(cold.kura))} |`);
  if (r2) console.log(`| cold pull through registry:2 in proxy mode | ${fmt(median(cold.registry2))} |`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
