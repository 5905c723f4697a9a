#!/usr/bin/env node
// Vulnerability scanning: import of a generated OSV database (time, peak RSS) and a scan of a 1,000-package SBOM.
// Usage: node bench/scan.mjs [--records N] [--packages N]   (build first: npx tsc -p tsconfig.json)
// Needs python3 (writes the zip) and GNU time (/usr/bin/time, for the child's peak RSS).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KURA = path.join(repoRoot, 'dist', 'cli', 'main.js');
const { values: opt } = parseArgs({
  options: { records: { type: 'string', default: '200000' }, packages: { type: 'string', default: '1000' } },
});
const RECORDS = Number(opt.records);
const PACKAGES = Number(opt.packages);
const dir = mkdtempSync(path.join(tmpdir(), 'kura-bench-scan-'));

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

const zip = path.join(dir, 'all.zip');
let t = Date.now();
const py =
  'import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\n' +
  'for line in sys.stdin:\n  i, doc = line.split("\\t", 1)\n  z.writestr(i + ".json", doc)\nz.close()\n';
const lines = [];
for (let i = 0; i < RECORDS; i++) lines.push(`BENCH-${i}\t${JSON.stringify(record(i))}`);
execFileSync('python3', ['-c', py, zip], { input: lines.join('\n') + '\n', maxBuffer: 1 << 30 });
console.log(
  `generated ${RECORDS} records: ${(statSync(zip).size / 2 ** 20).toFixed(1)} MiB zip in ${Date.now() - t} ms`,
);

const dbDir = path.join(dir, 'db');
t = Date.now();
const imp = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, KURA, 'db', 'import', '--db-dir', dbDir, zip], {
  encoding: 'utf8',
});
if (imp.status !== 0) throw new Error(imp.stderr);
const importMs = Date.now() - t;
const rssKiB = Number(imp.stderr.trim().split('\n').pop());
const dbMiB = statSync(path.join(dbDir, 'osv.sqlite')).size / 2 ** 20;
console.log(
  `import: ${(importMs / 1000).toFixed(1)} s, peak RSS ${(rssKiB / 1024).toFixed(0)} MB, db ${dbMiB.toFixed(0)} MiB`,
);

// A CycloneDX SBOM of PACKAGES npm packages, each named in the database (about 1/6 of them vulnerable).
const components = Array.from({ length: PACKAGES }, (_, i) => ({
  type: 'library',
  name: names(i * 6),
  version: `1.${i % 60}.0`,
  purl: `pkg:npm/${names(i * 6)}@1.${i % 60}.0`,
}));
const sbomFile = path.join(dir, 'sbom.cdx.json');
writeFileSync(sbomFile, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components }));
const scan = () => {
  const s = Date.now();
  const r = spawnSync(process.execPath, [KURA, 'scan', '--db-dir', dbDir, '--format', 'json', '--sbom', sbomFile], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return { ms: Date.now() - s, findings: JSON.parse(r.stdout).findings.length };
};
scan(); // warm the page cache
const runs = [scan(), scan(), scan()];
const help = [0, 1, 2].map(() => {
  const s = Date.now();
  spawnSync(process.execPath, [KURA, 'scan', '--help']);
  return Date.now() - s;
});
const med = (xs) => [...xs].sort((a, b) => a - b)[1];
console.log(
  `scan --sbom (${PACKAGES} packages, ${runs[0].findings} findings): median ${med(runs.map((r) => r.ms))} ms ` +
    `for the whole process (kura scan --help alone: ${med(help)} ms)`,
);
rmSync(dir, { recursive: true, force: true });
