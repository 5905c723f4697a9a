#!/usr/bin/env node
// Where a manifest GET's time goes in `kura serve`: the registry runs under V8's CPU profiler while
// wrk GETs one manifest by tag with docker's Accept headers (the manifest-get scenario of
// bench/registry.mjs), then the profile's samples are summed by where their code lives. Prints a
// markdown table: share of the server's samples by part (the kernel's socket writes, fastify, the
// router, the request log, the audit trail, Kura's HTTP layer, the registry services, SQLite, the
// garbage collector, idle), then the heaviest functions by self time.
//
//   npm run build && node bench/profile-manifest-get.mjs [--seconds 10] [--connections 32] [--top 15]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DOCKER_ACCEPT } from './lib/data.mjs';
import { runWrk } from './lib/wrk.mjs';
import { kuraMain } from './lib/kura.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const seconds = opt('--seconds', 10);
const connections = opt('--connections', 32);
const top = opt('--top', 15);

const dir = mkdtempSync(path.join(os.tmpdir(), 'kura-profile-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const server = spawn(
  process.execPath,
  [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    kuraMain(),
    'serve',
    '--data',
    path.join(dir, 'data'),
    '--listen',
    `127.0.0.1:${port}`,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const base = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/v2/`)).ok) break;
    } catch {
      if (i > 100) throw new Error('kura serve did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const { RegistryClient, randomImage } = await import(pathToFileURL(path.join(root, 'dist/ocikura.js')).href);
  await new RegistryClient({ registry: `127.0.0.1:${port}` })
    .repository('bench/manifest')
    .write('latest', await randomImage({ seed: 1 }));
  const w = await runWrk(`${base}/v2/bench/manifest/manifests/latest`, {
    accept: DOCKER_ACCEPT,
    seconds,
    connections,
  });
  console.log(`${Math.round(w.rps)} req/s over ${seconds} s, ${connections} connections, ${w.non2xx3xx} non-2xx`);
} finally {
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGINT');
  await exited;
}

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
rmSync(dir, { recursive: true, force: true });

/** The part of the server a sample's function belongs to. */
const PARTS = [
  [
    'kernel socket writes',
    (f) => ['writev', 'writeBuffer', 'writeString', 'writeUtf8String'].includes(f.name) && !f.url,
  ],
  ['idle', (f) => f.name === '(idle)'],
  ['garbage collector', (f) => f.name === '(garbage collector)'],
  ['request log (pino)', (f) => /node_modules\/(pino|sonic-boom)/.test(f.url)],
  ['router (find-my-way)', (f) => f.url.includes('node_modules/find-my-way')],
  ['fastify', (f) => /node_modules\/(fastify|avvio|light-my-request|@fastify)/.test(f.url)],
  ['SQLite', (f) => f.url.includes('better-sqlite3') || f.url.includes('/metadata/')],
  ['audit trail', (f) => /\/(registry\/activity|http\/audit)\.js/.test(f.url)],
  ["Kura's HTTP layer", (f) => f.url.includes('/dist/http/')],
  ['registry services', (f) => f.url.includes('/dist/registry/')],
  ['Node (http, streams, timers)', (f) => f.url.startsWith('node:')],
  ['other', () => true],
];

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const byPart = new Map(PARTS.map(([p]) => [p, 0]));
const byFunction = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i];
  const cf = nodes.get(id).callFrame;
  const f = { name: cf.functionName || '(anonymous)', url: cf.url };
  total += dt;
  const part = PARTS.find(([, test]) => test(f))[0];
  byPart.set(part, byPart.get(part) + dt);
  const where = f.url ? `${f.url.replace(/^.*\/(node_modules|dist)\//, '')}:${cf.lineNumber + 1}` : '(native)';
  const key = `${f.name} ${where}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
});
const pct = (x) => `${((100 * x) / total).toFixed(1)}%`;
console.log(`\nServer CPU profile, ${(total / 1e6).toFixed(1)} s of samples, Node ${process.version}\n`);
console.log('| part | share of samples |\n|---|---:|');
for (const [p, t] of [...byPart].sort((a, b) => b[1] - a[1])) if (t > 0) console.log(`| ${p} | ${pct(t)} |`);
console.log(`\n| function (self time) | share |\n|---|---:|`);
for (const [k, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| \`${k}\` | ${pct(t)} |`);
