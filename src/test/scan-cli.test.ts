// kura db import/status and kura scan, as processes: GHSA records against a Node app image, a Debian image by
// source package, zips (and a damaged one), the ignore file, filters, exit codes and SARIF against its schema.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { hasTool } from './kura-process.js';
import { kuraRunner } from './helpers.js';
import { writeLayoutImage } from './sbom-fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kura-scan-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const GHSA = '/work/shared/fixtures/osv-ghsa';
const SARIF_SCHEMA = '/work/shared/fixtures/schemas/sarif-2.1.0.schema.json';

const kura = kuraRunner({ cwd: dir, env: { ...process.env, CI: '1' } });
async function kuraFails(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    await kura(...args);
  } catch (e) {
    return e as { code: number; stdout: string; stderr: string };
  }
  assert.fail(`kura ${args.join(' ')} succeeded`);
}

const pj = (name: string, version: string) => JSON.stringify({ name, version, license: 'MIT' });
const app = join(dir, 'app');
const deb = join(dir, 'deb');

before(async () => {
  // An express 4.19.2 app as npm installs it, with a nested prerelease and a few packages past their fixes.
  await writeLayoutImage(app, 'v1', [
    { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n' },
    {
      'app/node_modules/express/package.json': pj('express', '4.19.2'),
      'app/node_modules/body-parser/package.json': pj('body-parser', '1.20.2'),
      'app/node_modules/send/package.json': pj('send', '0.18.0'),
      'app/node_modules/send/node_modules/ms/package.json': pj('ms', '2.1.3'),
      'app/node_modules/serve-static/package.json': pj('serve-static', '1.15.0'),
      'app/node_modules/path-to-regexp/package.json': pj('path-to-regexp', '0.1.7'),
      'app/node_modules/cookie/package.json': pj('cookie', '0.6.0'),
      'app/node_modules/ms/package.json': pj('ms', '2.0.0'),
      'app/node_modules/semver/package.json': pj('semver', '7.5.4'),
      'app/node_modules/lodash/package.json': pj('lodash', '4.17.21'),
      'app/node_modules/lodash-es/package.json': pj('lodash-es', '4.17.20'),
      'app/node_modules/make-dir/node_modules/semver/package.json': pj('semver', '6.3.0'),
      'next/node_modules/express/package.json': pj('express', '5.0.0-beta.3'),
    },
  ]);
  // A Debian 12 image: libssl3 from source openssl, passwd from source shadow with an epoch.
  const status = [
    'Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nSource: openssl\nArchitecture: amd64\n',
    'Package: passwd\nStatus: install ok installed\nVersion: 1:4.13+dfsg1-1\nSource: shadow\nArchitecture: amd64\n',
    'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n',
  ].join('\n');
  await writeLayoutImage(deb, 'v1', [
    { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n', 'var/lib/dpkg/status': status },
  ]);
});

/** The GHSA fixtures against the app image: each expected hit, nothing else (the hits are worked out by hand). */
test(
  'GHSA records against a Node app image: each expected hit found, nothing else',
  {
    skip: existsSync(GHSA) ? false : `${GHSA} is missing (the team's shared fixtures)`,
  },
  async () => {
    const db = join(dir, 'db-ghsa');
    const imp = await kura('db', 'import', '--db-dir', db, GHSA);
    assert.match(imp.stderr, /imported 11 records from /);
    const { stdout } = await kura('scan', '--db-dir', db, '--format', 'json', `oci:${app}:v1`);
    const doc = JSON.parse(stdout) as {
      findings: {
        id: string;
        aliases: string[];
        pkg: { name: string; version: string };
        fixed: string[];
        severity: { level: string; source: string };
      }[];
    };
    const got = doc.findings.map(
      (f) => `${f.pkg.name}@${f.pkg.version} ${f.id} ${f.aliases.join(',')} fixed=${f.fixed.join(',')}`,
    );
    assert.deepEqual(got.sort(), [
      'body-parser@1.20.2 CVE-2024-45590 GHSA-qwcr-r2fm-qrc7 fixed=1.20.3',
      'cookie@0.6.0 CVE-2024-47764 GHSA-pxg6-pf52-xh8x fixed=0.7.0',
      'express@4.19.2 CVE-2024-43796 GHSA-qw6h-vgh9-j6wx fixed=4.20.0',
      // The prerelease sits inside 5.0.0-alpha.1 ≤ v < 5.0.0, and past GHSA-rv95's fix 5.0.0-beta.3.
      'express@5.0.0-beta.3 CVE-2024-43796 GHSA-qw6h-vgh9-j6wx fixed=5.0.0',
      'lodash-es@4.17.20 CVE-2021-23337 GHSA-35jh-r3h4-6jhm fixed=4.17.21',
      'path-to-regexp@0.1.7 CVE-2024-45296 GHSA-9wv6-86v2-598j fixed=0.1.10',
      'path-to-regexp@0.1.7 CVE-2024-52798 GHSA-rhx6-c78j-4q9w fixed=0.1.12',
      'semver@6.3.0 CVE-2022-25883 GHSA-c2qf-rxjj-qqgw fixed=6.3.1',
      'send@0.18.0 CVE-2024-43799 GHSA-m6fv-jmcg-4jfg fixed=0.19.0',
      'serve-static@1.15.0 CVE-2024-43800 GHSA-cm22-4g7w-348p fixed=1.16.0',
    ]);
    const bp = doc.findings.find((f) => f.pkg.name === 'body-parser')!;
    // GHSA gives CVSS 3.1 and 4.0 vectors: the newer one is scored.
    assert.deepEqual([bp.severity.level, bp.severity.source], ['HIGH', 'CVSS:4.0']);

    // SARIF for code scanning, valid against the published schema.
    const sarif = JSON.parse((await kura('scan', '--db-dir', db, '--format', 'sarif', `oci:${app}:v1`)).stdout) as {
      runs: {
        tool: { driver: { rules: { id: string; properties: Record<string, unknown> }[] } };
        results: unknown[];
      }[];
    };
    assert.equal(sarif.runs[0]!.results.length, 10);
    assert.equal(
      sarif.runs[0]!.tool.driver.rules.find((r) => r.id === 'CVE-2024-45590')!.properties['security-severity'],
      '8.7',
    );
    if (!existsSync(SARIF_SCHEMA)) return;
    const require = createRequire(import.meta.url);
    const Ajv = require('ajv-draft-04') as new (o: object) => {
      compile(s: object): ((d: unknown) => boolean) & { errors?: unknown };
    };
    const validate = new Ajv({ allErrors: true, strict: false }).compile(
      JSON.parse(readFileSync(SARIF_SCHEMA, 'utf8')),
    );
    assert.ok(validate(sarif), JSON.stringify(validate.errors));
  },
);

/** OSV records of our own, shaped like Debian's (source packages, epochs, DSA ↔ CVE), written into a zip. */
function debianRecords(): Record<string, object> {
  const r = (id: string, name: string, fixed: string | undefined, extra: object = {}) => ({
    id,
    modified: '2024-03-01T00:00:00Z',
    affected: [
      {
        package: { ecosystem: 'Debian:12', name },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, ...(fixed ? [{ fixed }] : [])] }],
        ecosystem_specific: { urgency: 'medium' },
      },
    ],
    ...extra,
  });
  return {
    'DSA-5600-1.json': r('DSA-5600-1', 'openssl', '3.0.13-1~deb12u1', { upstream: ['CVE-2024-0727'] }),
    'DEBIAN-CVE-2024-0727.json': r('DEBIAN-CVE-2024-0727', 'openssl', '3.0.13-1~deb12u1', {
      upstream: ['CVE-2024-0727'],
    }),
    'DEBIAN-CVE-2023-4641.json': r('DEBIAN-CVE-2023-4641', 'shadow', '1:4.13+dfsg1-2'),
    'DEBIAN-CVE-2022-3715.json': r('DEBIAN-CVE-2022-3715', 'bash', undefined),
    'DEBIAN-CVE-2020-0001.json': r('DEBIAN-CVE-2020-0001', 'bash', '5.2.15-1', { withdrawn: '2024-01-01T00:00:00Z' }),
  };
}

function writeZip(file: string, entries: Record<string, object | string>): void {
  const py =
    'import json,sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\n' +
    'for k,v in json.load(sys.stdin).items(): z.writestr(k, v)\nz.close()\n';
  const texts = Object.fromEntries(
    Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
  execFileSync('python3', ['-c', py, file], { input: JSON.stringify(texts) });
}

test(
  'Debian by source package from a zip; status; a damaged zip leaves the database as it was',
  {
    skip: hasTool('python3') ? false : 'python3 is not installed (it writes the test zips)',
  },
  async () => {
    const db = join(dir, 'db-debian');
    const zip = join(dir, 'debian.zip');
    writeZip(zip, debianRecords());
    const imp = await kura('db', 'import', '--db-dir', db, zip);
    assert.match(imp.stderr, /imported 4 records from .*debian\.zip \(1 withdrawn, skipped\)/);
    const status = JSON.parse((await kura('db', 'status', '--db-dir', db, '--json')).stdout) as {
      sources: { records: number }[];
      ecosystems: Record<string, number>;
    };
    assert.deepEqual(status.ecosystems, { Debian: 4 });
    assert.match((await kura('db', 'status', '--db-dir', db)).stdout, /debian\.zip\s+4\s+1\s+\S+\s+0h/);

    const table = (await kura('scan', '--db-dir', db, `oci:${deb}:v1`)).stdout;
    assert.match(table, /^Total: 3 \(CRITICAL: 0, HIGH: 0, MEDIUM: 3, LOW: 0, UNKNOWN: 0\); 3 packages scanned$/m);
    assert.match(table, /libssl3\s+CVE-2024-0727\s+MEDIUM\s+Debian urgency\s+3\.0\.11-1~deb12u2\s+3\.0\.13-1~deb12u1/);
    assert.match(
      table,
      /passwd\s+DEBIAN-CVE-2023-4641\s+MEDIUM\s+Debian urgency\s+1:4\.13\+dfsg1-1\s+1:4\.13\+dfsg1-2/,
    );
    assert.match(table, /bash\s+DEBIAN-CVE-2022-3715\s+MEDIUM\s+Debian urgency\s+5\.2\.15-2\+b2\s+\(none\)/);

    // A damaged zip: the import fails naming it, and the database (file and content) is untouched.
    const before = readFileSync(join(db, 'osv.sqlite'));
    const bad = join(dir, 'bad.zip');
    writeFileSync(bad, readFileSync(zip).subarray(0, 200));
    const f = await kuraFails('db', 'import', '--db-dir', db, zip, bad);
    assert.equal(f.code, 1);
    assert.match(f.stderr, /^kura: error: .*bad\.zip: not a readable zip/m);
    assert.ok(readFileSync(join(db, 'osv.sqlite')).equals(before));
    assert.deepEqual(
      execFileSync('ls', ['-A', db], { encoding: 'utf8' }).trim().split('\n'),
      ['osv.sqlite'],
      'no temp file left behind',
    );
    // A record that is not OSV: named, nothing imported.
    const junk = join(dir, 'junk.json');
    writeFileSync(
      junk,
      JSON.stringify({ id: 'X-1', modified: 'm', affected: [{ ranges: [{ type: 'NOPE', events: [] }] }] }),
    );
    assert.match(
      (await kuraFails('db', 'import', '--db-dir', db, junk)).stderr,
      /junk\.json \(X-1\): not an OSV record: affected\.0\.ranges\.0\.type/,
    );
    assert.ok(statSync(join(db, 'osv.sqlite')).size === before.length);

    // The ignore file (reasons shown, exp: dates honoured), --ignore-unfixed, --severity and --exit-code.
    writeFileSync(
      join(dir, '.trivyignore'),
      '# accepted: openssl is not reachable from the network\nCVE-2024-0727\n\nDEBIAN-CVE-2023-4641 exp:2000-01-01\n',
    );
    const ignored = await kuraFails('scan', '--db-dir', db, '--exit-code', '3', '--ignore-unfixed', `oci:${deb}:v1`);
    assert.equal(ignored.code, 3);
    assert.match(ignored.stdout, /^Total: 1 /m);
    assert.match(ignored.stdout, /passwd\s+DEBIAN-CVE-2023-4641/);
    assert.match(
      ignored.stdout,
      /Ignored \(1\):\n {2}CVE-2024-0727 in libssl3 3\.0\.11-1~deb12u2: accepted: openssl is not reachable/,
    );
    const none = await kura('scan', '--db-dir', db, '--exit-code', '3', '--severity', 'HIGH,CRITICAL', `oci:${deb}:v1`);
    assert.match(none.stdout, /^Total: 0 /m);
    rmSync(join(dir, '.trivyignore'));
  },
);

test(
  'kura scan --sbom reads an SBOM written by kura sbom (CycloneDX and SPDX)',
  {
    skip: existsSync(GHSA) ? false : `${GHSA} is missing (the team's shared fixtures)`,
  },
  async () => {
    const db = join(dir, 'db-ghsa');
    if (!existsSync(db)) await kura('db', 'import', '--db-dir', db, GHSA);
    for (const format of ['cyclonedx-json', 'spdx-json']) {
      const file = join(dir, `app.${format}`);
      await kura('sbom', '--format', format, '-o', file, `oci:${app}:v1`);
      const doc = JSON.parse((await kura('scan', '--db-dir', db, '--format', 'json', '--sbom', file)).stdout) as {
        findings: { id: string; pkg: { layer: number } }[];
      };
      assert.equal(doc.findings.length, 10, format);
    }
  },
);

test(
  'OpenVEX (--vex, or as the ignore file) suppresses with its justification; --format cyclonedx is CycloneDX VEX',
  {
    skip: existsSync(GHSA) ? false : `${GHSA} is missing (the team's shared fixtures)`,
  },
  async () => {
    const db = join(dir, 'db-ghsa');
    if (!existsSync(db)) await kura('db', 'import', '--db-dir', db, GHSA);
    const image = `oci:${app}:v1`;
    const digest = (
      JSON.parse((await kura('scan', '--db-dir', db, '--format', 'json', image)).stdout) as {
        target: { digest: string };
      }
    ).target.digest;
    const vexFile = join(dir, 'app.openvex.json');
    writeFileSync(
      vexFile,
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        '@id': 'https://example.com/vex/app-1',
        author: 'Kura tests',
        timestamp: '2024-10-01T00:00:00Z',
        version: 1,
        statements: [
          {
            vulnerability: { name: 'CVE-2024-43796' },
            products: [
              {
                '@id': `pkg:oci/app@${encodeURIComponent(digest)}`,
                subcomponents: [{ '@id': 'pkg:npm/express@4.19.2' }],
              },
            ],
            status: 'not_affected',
            justification: 'vulnerable_code_not_in_execute_path',
          },
          {
            vulnerability: { name: 'GHSA-pxg6-pf52-xh8x' },
            products: [{ '@id': 'pkg:npm/cookie' }],
            status: 'fixed',
          },
          {
            vulnerability: { name: 'CVE-2024-45590' },
            products: [{ '@id': 'pkg:npm/body-parser@1.20.2' }],
            status: 'affected',
            action_statement: 'upgrade body-parser',
          },
        ],
      }),
    );
    const table = (await kura('scan', '--db-dir', db, '--vex', vexFile, image)).stdout;
    assert.match(table, /^Total: 8 /m);
    assert.match(
      table,
      /^ {2}CVE-2024-43796 in express 4\.19\.2: vulnerable_code_not_in_execute_path \(OpenVEX, .*statement 1\)$/m,
    );
    assert.match(table, /^ {2}CVE-2024-47764 in cookie 0\.6\.0: fixed \(OpenVEX, .*statement 2\)$/m);
    assert.match(table, /express\s+CVE-2024-43796\s.*\s5\.0\.0-beta\.3\s/, 'the other express is kept');

    // The same document as the ignore file is recognised as OpenVEX; CycloneDX VEX carries every decision.
    const cdx = join(dir, 'app.vex.cdx.json');
    await kura('scan', '--db-dir', db, '--ignorefile', vexFile, '--format', 'cyclonedx', '-o', cdx, image);
    const json = readFileSync(cdx, 'utf8');
    const { Validation, Spec } = await import('@cyclonedx/cyclonedx-library');
    assert.equal(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(json), null);
    const vulns = (
      JSON.parse(json) as {
        vulnerabilities: { id: string; affects: { ref: string }[]; analysis?: { state: string } }[];
      }
    ).vulnerabilities;
    assert.equal(vulns.length, 10);
    const state = (ref: string) => vulns.find((v) => v.affects[0]!.ref === ref)?.analysis?.state;
    assert.equal(state('pkg:npm/express@4.19.2'), 'not_affected');
    assert.equal(state('pkg:npm/cookie@0.6.0'), 'resolved');
    assert.equal(state('pkg:npm/body-parser@1.20.2'), 'exploitable');
    assert.equal(state('pkg:npm/send@0.18.0'), undefined);
  },
);

test('bad input: one kura: error line each, naming the fix', async () => {
  const empty = join(dir, 'no-db');
  mkdirSync(empty, { recursive: true });
  const badVex = join(dir, 'bad.openvex.json');
  writeFileSync(
    badVex,
    JSON.stringify({
      '@context': 'https://openvex.dev/ns/v0.2.0',
      statements: [{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:npm/a' }], status: 'maybe' }],
    }),
  );
  const cases: [string[], number, RegExp][] = [
    [['scan', '--db-dir', empty, `oci:${app}:v1`], 1, /no advisory database at .*; run "kura db import PATH"/],
    [
      ['scan', '--format', 'xml', `oci:${app}:v1`],
      2,
      /--format takes table, json, sarif, cyclonedx or cyclonedx@1.5, not "xml"/,
    ],
    [['scan'], 2, /kura scan takes an image or --sbom FILE/],
    [
      ['scan', '--db-dir', empty, '--vex', join(dir, 'none.json'), `oci:${app}:v1`],
      1,
      /--vex .*none\.json: no such file/,
    ],
    [['scan', '--vex', badVex, `oci:${app}:v1`], 1, /.*bad\.openvex\.json: statement 1: status "maybe" is not one of/],
    [['scan', '--severity', 'HUGE', `oci:${app}:v1`], 2, /--severity: "HUGE" is not a severity/],
    [['scan', '--exit-code', '-1', `oci:${app}:v1`], 2, /--exit-code takes a number from 0 to 255/],
    [['db', 'import', '--db-dir', empty, join(dir, 'nothing-here')], 1, /.*nothing-here: no such file or directory/],
  ];
  for (const [args, code, re] of cases) {
    const f = await kuraFails(...args);
    assert.equal(f.code, code, args.join(' '));
    assert.match(f.stderr, new RegExp(`^kura: error: ${re.source}`, 'm'), args.join(' '));
    assert.equal(
      f.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('kura: error')).length,
      1,
    );
  }
});
