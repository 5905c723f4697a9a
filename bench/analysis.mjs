#!/usr/bin/env node
// Analysis benchmark: `kura layers` and `kura lint` cold (no index cache) and warm (cached indexes),
// wall time and peak RSS, on an image built here from host directories (a rootfs-like tree of many
// small files) and optionally on one big single-layer image. trivy's secret scanner is timed on the
// same image when $TRIVY names a trivy binary (never installed by this script).
//
//   npm run build && node bench/analysis.mjs [--dirs /usr/share/doc,/usr/lib/python3] [--big-mib 1024] [--runs 3]
//
// Needs: tar, umoci, skopeo (for trivy's oci-archive), /usr/bin/time. Table on stdout, progress on stderr.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const dirs = opt('dirs', '/usr/share/doc,/usr/lib/python3,/usr/share/perl').split(',');
const bigMiB = Number(opt('big-mib', '0'));
const runs = Number(opt('runs', '3'));
const KURA = new URL('../dist/cli/main.js', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'kura-bench-analysis-'));
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
const sh = (cmd, a, o = {}) => execFileSync(cmd, a, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28, ...o });

function buildImage(name, layers) {
  const layout = join(work, name);
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:v1`]);
  layers.forEach((tar, i) => sh('umoci', ['raw', 'add-layer', '--image', `${layout}:v1`, '--history.created_by', `bench layer ${i}`, tar]));
  return `oci:${layout}:v1`;
}

/** Wall seconds and peak RSS (MB) of one command, via GNU time. */
function measure(cmd, a, env = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...a], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')} exited with ${r.status}: ${r.stderr}`);
  const out = r.stderr.toString();
  const [s, kb] = out.trim().split('\n').pop().split(' ').map(Number);
  return { s, mb: kb / 1024 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
function bench(label, image, cmd, a, { cold, env } = {}) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const store = join(work, 'store');
    if (cold) rmSync(store, { recursive: true, force: true });
    samples.push(measure(cmd, a, { KURA_STORE: store, CI: '', ...env }));
  }
  const r = { label, image, s: median(samples.map((x) => x.s)), mb: Math.max(...samples.map((x) => x.mb)) };
  log(`${label} on ${image}: ${r.s}s, ${r.mb.toFixed(0)} MB`);
  rows.push(r);
}

log(`building the tree image from ${dirs.join(', ')}`);
const l0 = join(work, 'l0.tar');
sh('tar', ['-C', '/', '-cf', l0, ...dirs.map((d) => d.replace(/^\//, ''))]);
// layer 1: a copy of one directory again (waste), plus a whiteout of another
const l1dir = join(work, 'l1');
sh('mkdir', ['-p', join(l1dir, dirs[0].replace(/^\//, ''))]);
writeFileSync(join(l1dir, dirs[0].replace(/^\//, ''), '.wh.kura-bench-none'), '');
const l1 = join(work, 'l1.tar');
sh('tar', ['-C', l1dir, '-cf', l1, '.']);
const tree = buildImage('tree', [l0, l1]);
const treeMB = Number(sh('du', ['-sm', join(work, 'tree')]).toString().split('\t')[0]);

for (const [label, a] of [
  ['layers', ['layers', tree]],
  ['lint (secrets included)', ['lint', tree]],
]) {
  bench(`kura ${label}, cold`, `tree (${treeMB} MB gzip)`, process.execPath, [KURA, ...a], { cold: true });
  bench(`kura ${label}, cached index`, `tree (${treeMB} MB gzip)`, process.execPath, [KURA, ...a]);
}
if (process.env.TRIVY && existsSync(process.env.TRIVY)) {
  const archive = join(work, 'tree.tar');
  sh('skopeo', ['copy', '-q', tree, `oci-archive:${archive}`]);
  bench('trivy --scanners secret', `tree (${treeMB} MB gzip)`, process.env.TRIVY, ['image', '--input', archive, '--scanners', 'secret', '--quiet', '--cache-dir', join(work, 'trivy-cache')]);
}
if (bigMiB > 0) {
  log(`building a ${bigMiB} MiB single-layer image`);
  const dir = join(work, 'big');
  sh('mkdir', ['-p', dir]);
  const fd = openSync(join(dir, 'blob.bin'), 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < bigMiB; i++) writeSync(fd, randomFillSync(chunk));
  closeSync(fd);
  const tar = join(work, 'big.tar');
  sh('tar', ['-C', dir, '-cf', tar, '.']);
  rmSync(dir, { recursive: true });
  const big = buildImage('bigimg', [tar]);
  bench('kura layers, cold', `one ${bigMiB} MiB layer`, process.execPath, [KURA, 'layers', big], { cold: true });
}

console.log('| command | image | median wall s | peak RSS MB |\n| --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.label} | ${r.image} | ${r.s.toFixed(2)} | ${r.mb.toFixed(0)} |`);
console.log(`\n${runs} runs each; load average at the end: ${sh('cat', ['/proc/loadavg']).toString().trim()}`);
rmSync(work, { recursive: true, force: true });
