#!/usr/bin/env node
// The pull-through cache against plain pulls: an upstream `kura serve`, a second `kura serve` caching it
// (proxy.upstreams) and, when /usr/bin/docker-registry is installed, Distribution in proxy mode
// (proxy.remoteurl) caching the same upstream; when /usr/sbin/nginx is installed (Debian's nginx-light), nginx's
// proxy_cache in front of the same upstream: a caching proxy in C that streams to the client while it writes the
// file, without checking digests, i.e. what a cold pull through any cache costs on this machine at the least. Each pull is a manifest GET then every blob GET (4 at a
// time, bodies drained); the cache hits are measured after all the cold pulls. One untimed warm-up pull per puller first (JIT, first
// connections). Prints a markdown table of median wall times with ratios:
//   plain pull from Kura (pushed there)     vs cache hit through Kura's proxy (and through registry:2's),
//   direct pull from the upstream (cold)    vs cold pull through Kura's proxy (and through registry:2's).
// Then, on Linux, the CPU time per cold pull of the caching Kura, of nginx's worker and of the client (this process,
// whose direct pulls keep about one CPU busy), and Kura's peak RSS (from /proc).
// The servers' own output goes to a log file, shown if something fails.
//
//   npm run build && node bench/proxy.mjs [--runs 7] [--layers 4] [--layer-mib 8]
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { kuraMain } from './lib/kura.mjs';
import { DISTRIBUTION_BIN, freePort } from './lib/servers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const runs = opt('--runs', 7);
const layers = opt('--layers', 4);
const layerMiB = opt('--layer-mib', 8);
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

const NGINX_BIN = process.env.NGINX_BIN || '/usr/sbin/nginx';
const dir = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-proxy-'));
const logFile = path.join(dir, 'servers.log');
const log = openSync(logFile, 'a');
const children = [];

/** Starts a server whose output goes to the log; a server that exits early fails the run. */
function start(cmd, argv) {
  const child = spawn(cmd, argv, { stdio: ['ignore', log, log] });
  child.exited = new Promise((r) => child.once('exit', r));
  child.once('exit', (code, signal) => {
    if (!child.stopping) console.error(`${path.basename(cmd)} exited early (${code ?? signal}); see below`);
  });
  children.push(child);
  return child;
}

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
  const p = await freePort();
  const file = path.join(dir, `${name}.yml`);
  writeFileSync(file, `listen: 127.0.0.1:${p}\ndata: ${path.join(dir, name)}\nlog:\n  level: warn\n${config}`);
  const child = start(process.execPath, [kuraMain(), 'serve', '-c', file]);
  const base = `http://127.0.0.1:${p}`;
  await waitUp(base);
  pids.set(name, child.pid);
  return base;
}

const pids = new Map();
/** A server's CPU time (user + system, ms) and peak RSS (MiB) so far, from /proc (Linux); undefined elsewhere. */
function usage(name) {
  try {
    const stat = readFileSync(`/proc/${pids.get(name)}/stat`, 'utf8')
      .split(') ')[1]
      .split(' ');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pids.get(name)}/status`, 'utf8'));
    return { cpuMs: (Number(stat[11]) + Number(stat[12])) * (1000 / 100), rssMiB: Number(hwm?.[1] ?? 0) / 1024 };
  } catch {
    return undefined;
  }
}

async function distributionProxy(remote) {
  const p = await freePort();
  const file = path.join(dir, 'registry2.yml');
  writeFileSync(
    file,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n` +
      `    rootdirectory: ${path.join(dir, 'registry2')}\nhttp:\n  addr: 127.0.0.1:${p}\nproxy:\n  remoteurl: ${remote}\n`,
  );
  start(DISTRIBUTION_BIN, ['serve', file]);
  const base = `http://127.0.0.1:${p}`;
  await waitUp(base);
  return base;
}

/** nginx's proxy_cache in front of `remote` (one worker); its worker's pid recorded as `nginx` for usage(). */
async function nginxCache(remote) {
  const p = await freePort();
  const d = path.join(dir, 'nginx');
  const file = path.join(d, 'nginx.conf');
  mkdirSync(path.join(d, 'cache'), { recursive: true });
  chmodSync(dir, 0o755); // nginx's worker runs as nobody and must reach its cache under the bench's directory
  writeFileSync(
    file,
    `worker_processes 1;\ndaemon off;\npid ${d}/nginx.pid;\nerror_log ${d}/error.log;\nevents {}\nhttp {\n` +
      `  access_log off;\n  proxy_temp_path ${d}/tmp;\n  client_body_temp_path ${d}/body;\n` +
      `  proxy_cache_path ${d}/cache levels=1:2 keys_zone=c:10m max_size=10g inactive=1h use_temp_path=off;\n` +
      `  server {\n    listen 127.0.0.1:${p};\n    location / {\n      proxy_pass ${remote};\n` +
      `      proxy_cache c;\n      proxy_cache_valid 200 1h;\n      proxy_http_version 1.1;\n` +
      `      proxy_set_header Connection "";\n    }\n  }\n}\n`,
  );
  const master = start(NGINX_BIN, ['-c', file]);
  const base = `http://127.0.0.1:${p}`;
  await waitUp(base);
  const children = readFileSync(`/proc/${master.pid}/task/${master.pid}/children`, 'utf8').trim().split(' ');
  // the worker is the child that serves; the cache manager sleeps (both are counted if the order differs)
  pids.set('nginx', Number(children[0]));
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
const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
let failed = false;

try {
  const { RegistryClient, randomImage } = await import(pathToFileURL(path.join(root, 'dist/ocikura.js')).href);
  const upstream = await kura('upstream', '');
  const cache = await kura(
    'cache',
    `proxy:\n  upstreams:\n    - name: up\n      url: ${upstream}\n      allowPrivate: true\n      ttl: 1h\n`,
  );
  const r2 = existsSync(DISTRIBUTION_BIN) ? await distributionProxy(upstream) : undefined;
  const ngx = existsSync(NGINX_BIN) ? await nginxCache(upstream) : undefined;
  const push = async (base, repo, seed) =>
    new RegistryClient({ registry: new URL(base).host })
      .repository(repo)
      .write('v1', await randomImage({ seed, layers, layerSize: layerMiB << 20, compression: 'none' }));
  // Cold pulls need an image nobody has pulled: one per run and per puller.
  const pullers = {
    direct: upstream,
    kura: `${cache}`,
    ...(r2 ? { registry2: r2 } : {}),
    ...(ngx ? { nginx: ngx } : {}),
  };
  const name = (who, repo) => (who === 'kura' ? `up/${repo}` : repo);
  let seed = 100;
  for (const [who, base] of Object.entries(pullers)) {
    await push(upstream, `warm/${who}`, seed++);
    await pull(base, name(who, `warm/${who}`), 'v1');
  }
  const cold = Object.fromEntries(Object.keys(pullers).map((k) => [k, []]));
  const hit = Object.fromEntries(Object.keys(pullers).map((k) => [k, []]));
  const cpu = { kura: 0, nginx: 0, client: 0 };
  for (let i = 0; i < runs; i++) {
    // The pullers take turns going first, so none always meets a busier machine.
    const order = Object.entries(pullers);
    for (let k = 0; k < i % order.length; k++) order.push(order.shift());
    for (const [who, base] of order) {
      const repo = `bench/${who}${i}`;
      await push(upstream, repo, seed++);
      const [k, n, c] = [usage('cache'), usage('nginx'), process.cpuUsage()];
      cold[who].push(await pull(base, name(who, repo), 'v1'));
      if (who === 'kura' && k) cpu.kura += usage('cache').cpuMs - k.cpuMs;
      if (who === 'nginx' && n) cpu.nginx += usage('nginx').cpuMs - n.cpuMs;
      if (who === 'direct') cpu.client += (process.cpuUsage(c).user + process.cpuUsage(c).system) / 1000;
    }
  }
  // Hits once every cold pull is over: a cache may still be storing what it streamed (a hit right after its cold
  // pull would measure that too).
  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < runs; i++)
    for (const [who, base] of Object.entries(pullers))
      hit[who].push(await pull(base, name(who, `bench/${who}${i}`), 'v1'));
  await push(cache, 'bench/plain', seed++);
  await pull(cache, 'bench/plain', 'v1');
  const plain = [];
  for (let i = 0; i < runs; i++) plain.push(await pull(cache, 'bench/plain', 'v1'));
  const mib = layers * layerMiB;
  const m = { plain: median(plain), direct: median(cold.direct) };
  console.log(
    `| pull of one image (${layers} × ${layerMiB} MiB layers, ${mib} MiB), median of ${runs} | time | ratio |`,
  );
  console.log('|---|---|---|');
  console.log(`| plain pull from Kura (pushed there) | ${fmt(m.plain)} | 1.00× |`);
  console.log(`| cache hit through Kura's proxy | ${fmt(median(hit.kura))} | ${ratio(median(hit.kura), m.plain)} |`);
  if (r2) {
    const h = median(hit.registry2);
    console.log(`| cache hit through registry:2 in proxy mode | ${fmt(h)} | ${ratio(h, m.plain)} |`);
  }
  if (ngx) {
    const h = median(hit.nginx);
    console.log(`| cache hit through nginx proxy_cache | ${fmt(h)} | ${ratio(h, m.plain)} |`);
  }
  console.log(`| pull directly from the upstream (first pull) | ${fmt(m.direct)} | 1.00× |`);
  console.log(`| cold pull through Kura's proxy | ${fmt(median(cold.kura))} | ${ratio(median(cold.kura), m.direct)} |`);
  if (r2) {
    const c = median(cold.registry2);
    console.log(`| cold pull through registry:2 in proxy mode | ${fmt(c)} | ${ratio(c, m.direct)} |`);
  }
  if (ngx) {
    const c = median(cold.nginx);
    console.log(`| cold pull through nginx proxy_cache (no digest check) | ${fmt(c)} | ${ratio(c, m.direct)} |`);
  }
  const k = usage('cache');
  if (k) {
    const per = (ms) => `${(ms / runs).toFixed(0)} ms`;
    console.log(
      `\nCPU per cold pull (user + system, /proc, 10 ms ticks): Kura's caching server ${per(cpu.kura)}` +
        `${ngx ? `, nginx's worker ${per(cpu.nginx)}` : ''}; the client, per direct pull, ${per(cpu.client)}. ` +
        `Kura's peak RSS ${k.rssMiB.toFixed(0)} MiB`,
    );
  }
  console.log(
    `\nloadavg at the end: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} on ${os.cpus().length} CPUs`,
  );
} catch (e) {
  failed = true;
  console.error(`bench/proxy: ${e.message}`);
  throw e;
} finally {
  for (const c of children) {
    c.stopping = true;
    c.kill('SIGTERM');
  }
  const timeout = new Promise((r) => setTimeout(r, 10_000).unref());
  await Promise.race([Promise.all(children.map((c) => c.exited)), timeout]);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  closeSync(log);
  if (failed) console.error(readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n'));
  rmSync(dir, { recursive: true, force: true });
}
