#!/usr/bin/env node
// Vulnerability scanning: import of a generated OSV database (time, peak RSS, CPU), a scan of a 1,000-package SBOM,
// and with --rootfs DIR (a Debian bookworm tree) what `kura scan IMAGE` adds to `kura sbom IMAGE` on that image.
// Usage: node bench/scan.mjs [--records N] [--packages N] [--rootfs DIR]   (build first: npm run build)
// Needs python3 (writes the zip), GNU time (/usr/bin/time: the child's peak RSS and CPU), umoci with --rootfs.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { kuraMain } from './lib/kura.mjs';

const KURA = kuraMain();
const { values: opt } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    packages: { type: 'string', default: '1000' },
    rootfs: { type: 'string' },
  },
});
const RECORDS = Number(opt.records);
const PACKAGES = Number(opt.packages);
const dir = mkdtempSync(path.join(tmpdir(), 'kura-bench-scan-'));

/** Runs kura under GNU time: wall ms (from here), peak RSS MB, CPU s (user + sys), stdout. */
function timed(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', process.execPath, KURA, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`kura ${args.join(' ')}: ${r.stderr}`);
  const [kib, user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { ms, mb: kib / 1024, cpu: user + sys, stdout: r.stdout };
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Records shaped like GHSA's and Debian's: aliases, CVSS vectors, several ranges, references, a details text.
const ECOS = ['npm', 'PyPI', 'Go', 'Maven', 'Debian:12', 'Alpine:v3.19'];
const names = (i) => `pkg-${i % 20000}`;
function record(i) {
  const eco = ECOS[i % ECOS.length];
  const name = eco === 'Maven' ? `org.example:${names(i)}` : eco === 'Go' ? `example.com/${names(i)}` : names(i);
  const fixed = eco.startsWith('Debian')
    ? `1.${i % 50}.0-1`
    : eco.startsWith('Alpine')
      ? `1.${i % 50}.0-r1`
      : `1.${i % 50}.0`;
  return {
    schema_version: '1.6.0',
    id: `BENCH-${String(i).padStart(7, '0')}`,
    modified: '2024-06-01T00:00:00Z',
    published: '2024-05-01T00:00:00Z',
    aliases: [`CVE-2024-${100000 + i}`],
    summary: `Generated advisory ${i} for ${name}`,
    details: 'A generated description of realistic length. '.repeat(12),
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N' }],
    affected: [
      {
        package: { ecosystem: eco, name },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
        database_specific: { source: 'bench' },
      },
    ],
    references: [
      { type: 'ADVISORY', url: `https://nvd.nist.gov/vuln/detail/CVE-2024-${100000 + i}` },
      { type: 'WEB', url: `https://example.com/${name}/issues/${i}` },
      { type: 'PACKAGE', url: `https://example.com/${name}` },
    ],
    database_specific: { severity: 'HIGH', github_reviewed: true },
  };
}

// With --rootfs: Debian:12 records for the tree's own source packages (as Debian's OSV export names them), each
// source with one record it is affected by (fixed in a later version) and one it is not (fixed long ago).
const debSources = new Set();
if (opt.rootfs) {
  const status = readFileSync(path.join(opt.rootfs, 'var/lib/dpkg/status'), 'utf8');
  for (const para of status.split('\n\n')) {
    const pkg = /^Package: (\S+)/m.exec(para)?.[1];
    if (pkg) debSources.add(/^Source: (\S+)/m.exec(para)?.[1] ?? pkg);
  }
}
const debRecord = (src, j) => ({
  ...record(j),
  id: `DEBIAN-BENCH-${src}-${j}`,
  aliases: [`CVE-2099-${src}-${j}`],
  affected: [
    {
      package: { ecosystem: 'Debian:12', name: src },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: j % 2 ? '0.0.1-1' : '999:1.0-1' }] }],
    },
  ],
});

const zip = path.join(dir, 'all.zip');
let t = Date.now();
const py =
  'import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\n' +
  'for line in sys.stdin:\n  i, doc = line.split("\\t", 1)\n  z.writestr(i + ".json", doc)\nz.close()\n';
const lines = [];
for (let i = 0; i < RECORDS; i++) lines.push(`BENCH-${i}\t${JSON.stringify(record(i))}`);
for (const src of debSources)
  for (const j of [0, 1]) lines.push(`DEBIAN-${src}-${j}\t${JSON.stringify(debRecord(src, j))}`);
execFileSync('python3', ['-c', py, zip], { input: lines.join('\n') + '\n', maxBuffer: 1 << 30 });
console.log(
  `generated ${lines.length} records: ${(statSync(zip).size / 2 ** 20).toFixed(1)} MiB zip in ${Date.now() - t} ms`,
);

const dbDir = path.join(dir, 'db');
const imp = timed(['db', 'import', '--db-dir', dbDir, zip]);
const dbMiB = statSync(path.join(dbDir, 'osv.sqlite')).size / 2 ** 20;
console.log(
  `import: ${(imp.ms / 1000).toFixed(1)} s wall, ${imp.cpu.toFixed(1)} s CPU, peak RSS ${imp.mb.toFixed(0)} MB, ` +
    `db ${dbMiB.toFixed(0)} MiB`,
);

/** Median wall and CPU of three runs (after one to warm the page cache). */
function median3(args) {
  timed(args);
  const runs = [timed(args), timed(args), timed(args)];
  return { ms: med(runs.map((r) => r.ms)), cpu: med(runs.map((r) => r.cpu)), stdout: runs[0].stdout };
}
const fmt = (r) => `${r.ms.toFixed(0)} ms wall, ${(r.cpu * 1000).toFixed(0)} ms CPU`;
const help = median3(['scan', '--help']);
console.log(`kura scan --help (start-up): ${fmt(help)}`);

// A CycloneDX SBOM of PACKAGES npm packages, each named in the database (about 1/6 of them vulnerable).
const components = Array.from({ length: PACKAGES }, (_, i) => ({
  type: 'library',
  name: names(i * 6),
  version: `1.${i % 60}.0`,
  purl: `pkg:npm/${names(i * 6)}@1.${i % 60}.0`,
}));
const sbomFile = path.join(dir, 'sbom.cdx.json');
writeFileSync(sbomFile, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components }));
const scan = median3(['scan', '--db-dir', dbDir, '--format', 'json', '--sbom', sbomFile]);
console.log(
  `scan --sbom (${PACKAGES} packages, ${JSON.parse(scan.stdout).findings.length} findings): ${fmt(scan)}; ` +
    `beyond start-up ${(scan.ms - help.ms).toFixed(0)} ms wall, ${((scan.cpu - help.cpu) * 1000).toFixed(0)} ms CPU`,
);

if (opt.rootfs) {
  const layout = path.join(dir, 'bookworm');
  const tar = path.join(dir, 'rootfs.tar');
  execFileSync('tar', ['-C', opt.rootfs, '--numeric-owner', '-cf', tar, '.']);
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', `${layout}:v1`]);
  execFileSync('umoci', ['raw', 'add-layer', '--image', `${layout}:v1`, tar]);
  const image = `oci:${layout}:v1`;
  const store = { KURA_STORE: path.join(dir, 'store') };
  Object.assign(process.env, store);
  const sbom = median3(['sbom', '--format', 'cyclonedx-json', image]);
  const img = median3(['scan', '--db-dir', dbDir, '--format', 'json', image]);
  const doc = JSON.parse(img.stdout);
  console.log(
    `bookworm (${debSources.size} source packages): kura sbom ${fmt(sbom)}; kura scan ${fmt(img)} ` +
      `(${doc.packages.scanned} packages, ${doc.findings.length} findings); the scan adds ` +
      `${(img.ms - sbom.ms).toFixed(0)} ms wall, ${((img.cpu - sbom.cpu) * 1000).toFixed(0)} ms CPU`,
  );
}
rmSync(dir, { recursive: true, force: true });
