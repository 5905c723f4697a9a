#!/usr/bin/env node
// Side-by-side benchmark of Kura (`kura serve`) and CNCF Distribution 2.8.x.
// Usage: node bench/registry.mjs [--quick] [--only s1,s2] [--servers distribution,kura] [--out file.json] [--accept-joined]
import { parseArgs } from 'node:util';
import { createHash, randomFillSync } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './lib/servers.mjs';
import { SCENARIOS, makeContext } from './lib/scenarios.mjs';
import { fsyncRates, trivialServerRps } from './lib/baselines.mjs';

const MiB = 2 ** 20;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LABEL = { distribution: 'Distribution', kura: 'Kura' };

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    servers: { type: 'string', default: 'distribution,kura' },
    out: { type: 'string' },
    'accept-joined': { type: 'boolean', default: false },
    'no-abba': { type: 'boolean', default: false },
    set: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opt.help) {
  console.log(`node bench/registry.mjs [options]
  --quick              small sizes (64 MiB layer, 20 images, 500 tags, 200 repos, 100 mounts, 3 s wrk runs)
  --only a,b           run only these scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}
  --servers a,b        distribution,kura (default both; one alone is for debugging)
  --out FILE           JSON results (default bench/results/registry-<time>.json)
  --accept-joined      send the docker Accept values comma-joined on one line instead of one line each
  --no-abba            run the disk-heavy scenarios once per server instead of A B B A
  --set key=value      override one size (repeatable): layerMiB, pulls, images, tags, repos, mounts, wrkSeconds, walkSeconds`);
  process.exit(0);
}

const sizes = opt.quick
  ? { layerBytes: 64 * MiB, pulls: 16, images: 20, tags: 500, repos: 200, mounts: 100, wrkSeconds: 3, walkSeconds: 1 }
  : {
      layerBytes: 1024 * MiB,
      pulls: 4,
      images: 200,
      tags: 5000,
      repos: 2000,
      mounts: 500,
      wrkSeconds: 10,
      walkSeconds: 3,
    };

for (const kv of opt.set ?? []) {
  const [k, v] = kv.split('=');
  if (k === 'layerMiB') sizes.layerBytes = Number(v) * MiB;
  else if (k in sizes) sizes[k] = Number(v);
  else throw new Error(`--set: unknown size ${k}`);
  if (!Number.isFinite(Number(v)) || Number(v) <= 0) throw new Error(`--set ${kv}: not a positive number`);
}

const servers = opt.servers
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of servers) if (!LABEL[s]) throw new Error(`unknown server ${s}`);
let scenarios = SCENARIOS;
if (opt.only) {
  const want = opt.only.split(',').map((s) => s.trim());
  for (const w of want) if (!SCENARIOS.find((s) => s.name === w)) throw new Error(`unknown scenario ${w}`);
  scenarios = SCENARIOS.filter((s) => want.includes(s.name));
}

const log = (s) => process.stderr.write(s + '\n');

function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  let nproc;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    nproc = os.availableParallelism();
  }
  let distVersion = null;
  try {
    distVersion = execFileSync(process.env.DISTRIBUTION_BIN || '/usr/bin/docker-registry', ['--version'], {
      encoding: 'utf8',
    }).trim();
  } catch {}
  let wrkVersion = null;
  try {
    execFileSync('wrk', ['--version'], { encoding: 'utf8' });
  } catch (e) {
    wrkVersion =
      String(e.stdout ?? '')
        .split('\n')[0]
        .trim() || null; // wrk --version exits 1
  }
  return {
    nproc,
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown',
    memGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    kernel: `${os.release()} ${os.version()}`,
    distribution: distVersion,
    wrk: wrkVersion,
  };
}

/**
 * Single-core sha256 speed of node:crypto, hashing 512 MiB in-process (8 MiB buffer, one hash).
 * Also returns the best of the four 128 MiB quarters: other work shares the cores, so the best quarter is
 * closer to the machine's real figure.
 */
function shaSpeed(totalMiB = 512) {
  const buf = randomFillSync(Buffer.alloc(8 * MiB));
  const h0 = createHash('sha256');
  h0.update(buf); // warm-up
  h0.digest();
  const h = createHash('sha256');
  const t0 = performance.now();
  let best = 0;
  for (let q = 0; q < 4; q++) {
    const tq = performance.now();
    for (let i = 0; i < totalMiB / 32; i++) h.update(buf);
    best = Math.max(best, totalMiB / 4 / ((performance.now() - tq) / 1000));
  }
  h.digest();
  return { mibps: totalMiB / ((performance.now() - t0) / 1000), bestQuarterMiBps: best };
}

function fmt(v) {
  if (v == null) return '—';
  if (typeof v !== 'number') return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(v);
}

/** Kura vs Distribution: raw ratio Kura/Dist plus a verdict (>1 = Kura better whatever the direction). */
function compare(better, d, k) {
  if (typeof d !== 'number' || typeof k !== 'number') return { ratio: null, verdict: '—' };
  const ratio = d === 0 ? (k === 0 ? 1 : null) : k / d;
  if (better === 'info' || ratio == null) return { ratio, verdict: better === 'info' ? 'info' : '—' };
  const kuraFactor = better === 'higher' ? ratio : ratio === 0 ? Infinity : 1 / ratio;
  if (Math.abs(kuraFactor - 1) < 0.15) return { ratio, verdict: '≈ (within 15%)' };
  return kuraFactor > 1
    ? { ratio, verdict: `Kura ${kuraFactor.toFixed(2)}× better` }
    : { ratio, verdict: `Distribution ${(1 / kuraFactor).toFixed(2)}× better` };
}

async function runOne(kind, scenario, ctx) {
  let srv;
  const rec = { server: kind };
  try {
    srv = await startServer(kind, { repoRoot });
    rec.pid = srv.pid;
    rec.serverNotes = srv.notes;
    const t0 = performance.now();
    const out = await scenario.run(srv, ctx);
    rec.seconds = Number(((performance.now() - t0) / 1000).toFixed(2));
    rec.metrics = out.metrics;
    rec.notes = out.notes;
    rec.hwmMiB = Number((srv.hwmKiB() / 1024).toFixed(1));
    rec.metrics.push({
      key: 'hwm',
      label: 'VmHWM (whole scenario, incl. setup)',
      value: rec.hwmMiB,
      unit: 'MiB',
      better: 'lower',
    });
    if (!srv.alive()) throw new Error('server exited during the scenario');
  } catch (e) {
    rec.error = e.message;
    if (e.request) rec.failedRequest = e.request;
    if (srv) {
      rec.serverAlive = srv.alive();
      rec.serverStderrTail = srv.stderr().slice(-2000);
    }
  } finally {
    if (srv) await srv.stop();
  }
  return rec;
}

/** One record from several runs of a server: each numeric metric is the mean, its run values kept. */
function meanOfRuns(recs) {
  if (recs.length === 1) return recs[0];
  const failed = recs.find((r) => r.error);
  if (failed) return failed;
  const [base] = recs;
  const metrics = base.metrics.map((m) => {
    const values = recs.map((r) => r.metrics.find((x) => x.key === m.key)?.value);
    const nums = values.filter((v) => typeof v === 'number');
    if (nums.length !== values.length) return m;
    const mean = nums.reduce((a, b) => a + b, 0) / nums.length;
    return { ...m, value: Number(mean.toPrecision(4)), runs: values };
  });
  return { ...base, metrics, notes: recs.map((r) => r.notes), seconds: recs.map((r) => r.seconds) };
}

async function main() {
  const machine = machineInfo();
  log(`machine: ${machine.nproc} cores, ${machine.cpuModel}, node ${machine.node}, kernel ${machine.kernel}`);
  const sha = shaSpeed();
  const shaMiBps = sha.mibps;
  log(
    `sha256 single core: ${shaMiBps.toFixed(0)} MiB/s (best 128 MiB quarter ${sha.bestQuarterMiBps.toFixed(0)} MiB/s)`,
  );
  const disk = fsyncRates();
  log(
    `disk (fsync'd): ${disk.commitsPerSecond.toFixed(0)} small-file commits/s, ${disk.sequentialMiBps.toFixed(0)} MiB/s sequential`,
  );
  let trivialRps = null;
  try {
    trivialRps = await trivialServerRps(sizes.wrkSeconds);
    log(`trivial Node HTTP server: ${trivialRps.toFixed(0)} req/s (wrk 2 × 32)`);
  } catch (e) {
    log(`trivial Node HTTP server: not measured (${e.message.split('\n')[0]})`);
  }
  const ctx = makeContext(sizes, shaMiBps, opt['accept-joined']);
  if (scenarios.some((s) => s.name === 'big-layer')) ctx.bigLayer();
  if (scenarios.some((s) => s.name === 'small-images')) ctx.smallImages();

  const results = [];
  for (let i = 0; i < scenarios.length; i++) {
    const sc = scenarios[i];
    const first = i % 2 === 0 ? [...servers] : [...servers].reverse();
    // Disk-heavy scenarios run A B B A and report each server's mean: whichever server went second
    // in the 1 GiB scenario measured up to 2x slower pulls, in either order, even after sync(1).
    const order = sc.abba && !opt['no-abba'] ? [...first, ...[...first].reverse()] : first;
    log(`\n[${sc.name}] ${sc.title(sizes)} — order: ${order.join(' → ')}`);
    const entry = { scenario: sc.name, title: sc.title(sizes), order, results: {}, runs: {} };
    for (const kind of order) {
      // Distribution never fsyncs: its last scenario can leave a GiB of dirty pages that the kernel
      // writes back while the next server is measured. sync(1) first, so each starts from a clean disk.
      execFileSync('sync');
      log(`  ${LABEL[kind]}…`);
      const rec = await runOne(kind, sc, ctx);
      (entry.runs[kind] ??= []).push(rec);
      if (rec.error) log(`  ${LABEL[kind]} FAILED: ${rec.error.split('\n')[0]}`);
      else
        log(
          `  ${LABEL[kind]} done in ${rec.seconds} s: ` +
            rec.metrics
              .slice(0, 3)
              .map((m) => `${m.label} ${fmt(m.value)} ${m.unit}`)
              .join('; '),
        );
    }
    for (const [kind, recs] of Object.entries(entry.runs)) entry.results[kind] = meanOfRuns(recs);
    results.push(entry);
  }

  // Markdown report.
  const lines = [];
  lines.push(`## Registry benchmark (${opt.quick ? 'quick' : 'full'}) — ${new Date().toISOString()}`);
  lines.push('');
  lines.push(
    `Machine: ${machine.nproc} cores (nproc), ${machine.cpuModel}, ${machine.memGiB} GiB, node ${machine.node}, kernel ${machine.kernel}`,
  );
  lines.push(`Distribution: ${machine.distribution ?? 'n/a'}; wrk: ${machine.wrk ?? 'n/a'}`);
  lines.push(
    `sha256 (node:crypto, one core, 512 MiB in-process): ${shaMiBps.toFixed(0)} MiB/s (best 128 MiB quarter: ${sha.bestQuarterMiBps.toFixed(0)} MiB/s)`,
  );
  lines.push(
    `Disk (fsync'd, temp folder): ${disk.commitsPerSecond.toFixed(0)} small-file commits/s (write, fsync, rename, folder fsync); ${disk.sequentialMiBps.toFixed(0)} MiB/s sequential`,
  );
  lines.push(
    `Trivial Node HTTP server (wrk 2 threads × 32 connections): ${trivialRps == null ? 'n/a' : `${trivialRps.toFixed(0)} req/s`}`,
  );
  lines.push(`Sizes: ${JSON.stringify({ ...sizes, layerBytes: undefined, layerMiB: sizes.layerBytes / MiB })}`);
  lines.push('');
  lines.push(
    'Kura/Dist is the raw ratio of the two values; "better" says which direction wins for that row; differences under 15% are noise here.',
  );
  lines.push('');
  lines.push('| scenario | metric | better | Distribution | Kura | Kura/Dist | verdict |');
  lines.push('| --- | --- | --- | ---: | ---: | ---: | --- |');
  for (const e of results) {
    const d = e.results.distribution;
    const k = e.results.kura;
    const keys = [];
    for (const r of [d, k]) for (const m of r?.metrics ?? []) if (!keys.find((x) => x.key === m.key)) keys.push(m);
    for (const r of [d, k])
      if (r?.error)
        lines.push(
          `| ${e.scenario} | **FAILED** (${LABEL[r.server]}) | | | | | ${r.error.split('\n')[0].replace(/\|/g, '\\|').slice(0, 300)} |`,
        );
    for (const m of keys) {
      const dv = d?.metrics?.find((x) => x.key === m.key)?.value;
      const kv = k?.metrics?.find((x) => x.key === m.key)?.value;
      let { ratio, verdict } = compare(m.better, dv, kv);
      if (m.sameAs && verdict !== '—') {
        const a = d?.metrics?.find((x) => x.key === m.sameAs)?.value;
        const b = k?.metrics?.find((x) => x.key === m.sameAs)?.value;
        if (a !== b) verdict = `not like for like (${m.sameAs}: ${a} vs ${b})`;
      }
      const unit = m.unit ? ` ${m.unit}` : '';
      lines.push(
        `| ${e.scenario} | ${m.label}${unit ? ` (${m.unit})` : ''} | ${m.better === 'info' ? '—' : m.better} | ${fmt(dv)} | ${fmt(kv)} | ${ratio == null ? '—' : ratio.toFixed(2)} | ${verdict} |`,
      );
    }
  }
  lines.push('');
  lines.push('### Notes per scenario');
  for (const e of results) {
    lines.push(`- **${e.scenario}** (${e.title}; order ${e.order.join(' → ')})`);
    for (const kind of Object.keys(e.results)) {
      const r = e.results[kind];
      const extra = r.error
        ? `FAILED: ${r.error.split('\n')[0]}${r.failedRequest ? ` — request ${r.failedRequest.method} ${r.failedRequest.path} → ${r.failedRequest.status} ${r.failedRequest.body}` : ''}`
        : JSON.stringify(r.notes);
      lines.push(`  - ${LABEL[kind]}: ${extra}`);
    }
  }
  const bl = results.find((e) => e.scenario === 'big-layer');
  if (bl) {
    lines.push('');
    for (const kind of servers) {
      const v = bl.results[kind]?.metrics?.find((m) => m.key === 'push.mibps')?.value;
      if (v)
        lines.push(
          `Push speed ${LABEL[kind]}: ${v} MiB/s = ${((100 * v) / shaMiBps).toFixed(0)}% of single-core sha256, ${((100 * v) / disk.sequentialMiBps).toFixed(0)}% of the disk's fsync'd sequential rate.`,
        );
    }
  }
  const mg = results.find((e) => e.scenario === 'manifest-get');
  if (mg && trivialRps) {
    for (const kind of servers) {
      const v = mg.results[kind]?.metrics?.find((m) => m.key.endsWith('rps'))?.value;
      if (v)
        lines.push(
          `Manifest GET ${LABEL[kind]}: ${fmt(v)} req/s = ${((100 * v) / trivialRps).toFixed(0)}% of a trivial Node HTTP server.`,
        );
    }
  }
  console.log(lines.join('\n'));

  const out =
    opt.out ?? path.join(repoRoot, 'bench/results', `registry-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        quick: opt.quick,
        sizes,
        machine,
        sha256MiBps: Number(shaMiBps.toFixed(1)),
        sha256BestQuarterMiBps: Number(sha.bestQuarterMiBps.toFixed(1)),
        disk,
        trivialServerRps: trivialRps,
        servers,
        results,
      },
      null,
      2,
    ),
  );
  log(`\nJSON: ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
