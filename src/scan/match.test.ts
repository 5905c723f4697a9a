// Matching on records shaped like the real ones: Debian by source package with epochs, Alpine, PyPI names,
// Maven group:artifact, withdrawn records, aliases collapsed, severity with its source.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { SbomPackage } from '../sbom/model.js';
import { AdvisoryDb, DbWriter } from './db.js';
import { matchSbom } from './match.js';
import type { OsvRecord } from './osv.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-match-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rec = (id: string, ecosystem: string, name: string, events: object[], extra: Partial<OsvRecord> = {}) =>
  ({
    id,
    modified: '2024-01-01T00:00:00Z',
    affected: [{ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events }] }],
    ...extra,
  }) as OsvRecord;

const pkg = (type: SbomPackage['type'], name: string, version: string, extra: Partial<SbomPackage> = {}) =>
  ({
    type,
    name,
    version,
    purl: `pkg:${type}/${name}@${version}`,
    licenses: [],
    layer: 0,
    locations: [],
    foundBy: 't',
    ...extra,
  }) as SbomPackage;

function dbWith(records: OsvRecord[]): AdvisoryDb {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.db`);
  const w = new DbWriter(file);
  w.beginSource('test');
  for (const r of records) w.add('test', r);
  w.endSource('test');
  w.commit();
  return AdvisoryDb.open(file);
}

test('Debian: binary packages match by source package and source version, in the release only', () => {
  const db = dbWith([
    rec('DEBIAN-CVE-2024-0001', 'Debian:12', 'openssl', [{ introduced: '0' }, { fixed: '3.0.13-1~deb12u1' }], {
      upstream: ['CVE-2024-0001'],
      affected: [
        {
          package: { ecosystem: 'Debian:12', name: 'openssl' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.13-1~deb12u1' }] }],
          ecosystem_specific: { urgency: 'high' },
        },
      ],
    }),
    rec('DSA-5000-1', 'Debian:12', 'openssl', [{ introduced: '0' }, { fixed: '3.0.13-1~deb12u1' }], {
      upstream: ['CVE-2024-0001'],
    }),
    rec('DEBIAN-CVE-2024-0002', 'Debian:11', 'openssl', [{ introduced: '0' }]),
    rec('DEBIAN-CVE-2024-0003', 'Debian:12', 'shadow', [{ introduced: '0' }, { fixed: '1:4.13+dfsg1-2' }]),
    rec('DEBIAN-CVE-2024-0004', 'Debian:12', 'zlib', [{ introduced: '0' }, { fixed: '1:1.2.13.dfsg-2' }], {
      withdrawn: '2024-02-01T00:00:00Z',
    }),
  ]);
  const r = matchSbom(
    {
      distro: { id: 'debian', versionId: '12' },
      packages: [
        pkg('deb', 'libssl3', '3.0.11-1~deb12u2', { source: { name: 'openssl' } }),
        // Epoch 1 in the source version: 1:4.13+dfsg1-1 is below 1:4.13+dfsg1-2 (and far above 4.x without one).
        pkg('deb', 'passwd', '1:4.13+dfsg1-1', { source: { name: 'shadow' } }),
        pkg('deb', 'login', '1:4.13+dfsg1-2', { source: { name: 'shadow' } }),
        pkg('deb', 'zlib1g', '1:1.2.13.dfsg-1', { source: { name: 'zlib' } }),
      ],
    },
    db,
  );
  const got = r.findings.map((f) => `${f.pkg.name} ${f.id} [${f.aliases.join(' ')}] fixed=${f.fixed.join(',')}`);
  assert.deepEqual(got.sort(), [
    'libssl3 CVE-2024-0001 [DEBIAN-CVE-2024-0001 DSA-5000-1] fixed=3.0.13-1~deb12u1',
    'passwd DEBIAN-CVE-2024-0003 [] fixed=1:4.13+dfsg1-2',
  ]);
  const ssl = r.findings.find((f) => f.pkg.name === 'libssl3')!;
  assert.deepEqual(ssl.matched, { ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1~deb12u2' });
  assert.deepEqual([ssl.severity.level, ssl.severity.source], ['HIGH', 'Debian urgency']);
  assert.deepEqual(r.packages, { scanned: 4, skipped: 0 });
});

test('language packages: PEP 503 names, Maven group:artifact, npm scopes; CVSS scored with its source', () => {
  const db = dbWith([
    rec('GHSA-aaaa-bbbb-cccc', 'PyPI', 'PyYAML', [{ introduced: '0' }, { fixed: '5.4' }], {
      aliases: ['CVE-2020-14343'],
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    }),
    rec(
      'GHSA-dddd-eeee-ffff',
      'Maven',
      'org.apache.logging.log4j:log4j-core',
      [{ introduced: '2.0-beta9' }, { fixed: '2.15.0' }],
      {
        database_specific: { severity: 'CRITICAL' },
      },
    ),
    rec('GHSA-gggg-hhhh-iiii', 'npm', '@babel/traverse', [{ introduced: '0' }, { fixed: '7.23.2' }], {
      database_specific: { severity: 'MODERATE' },
    }),
  ]);
  const r = matchSbom(
    {
      distro: undefined,
      packages: [
        pkg('python', 'pyyaml', '5.3.1'),
        pkg('java', 'log4j-core', '2.14.1', { properties: { 'maven.groupId': 'org.apache.logging.log4j' } }),
        pkg('java', 'log4j-core', '2.14.1'),
        pkg('npm', '@babel/traverse', '7.23.0'),
        pkg('npm', 'babel-traverse', '7.23.0'),
        pkg('deb', 'bash', '5.2.15-2'),
      ],
    },
    db,
  );
  const got = r.findings.map(
    (f) => `${f.pkg.name} ${f.id} ${f.severity.level} ${f.severity.source} ${f.severity.score ?? ''}`,
  );
  assert.deepEqual(got, [
    'pyyaml CVE-2020-14343 CRITICAL CVSS:3.1 9.8',
    'log4j-core GHSA-dddd-eeee-ffff CRITICAL GHSA ',
    '@babel/traverse GHSA-gggg-hhhh-iiii MEDIUM GHSA ',
  ]);
  // A jar without a group and a deb without a distro cannot be placed: counted, not guessed.
  assert.deepEqual(r.packages, { scanned: 4, skipped: 2 });
});

test('Alpine by origin and minor release; a version the ordering cannot read is a warning, not a match', () => {
  const db = dbWith([
    rec('ALPINE-CVE-2024-1', 'Alpine:v3.19', 'openssl', [{ introduced: '0' }, { fixed: '3.1.4-r5' }]),
    rec('ALPINE-CVE-2024-2', 'Alpine:v3.18', 'openssl', [{ introduced: '0' }]),
    rec('ALPINE-CVE-2024-3', 'Alpine:v3.19', 'busybox', [{ introduced: '0' }, { fixed: 'not a version!' }]),
  ]);
  const r = matchSbom(
    {
      distro: { id: 'alpine', versionId: '3.19.1' },
      packages: [
        pkg('apk', 'libcrypto3', '3.1.4-r1', { source: { name: 'openssl' } }),
        pkg('apk', 'busybox', '1.36.1-r15'),
      ],
    },
    db,
  );
  assert.deepEqual(
    r.findings.map((f) => `${f.pkg.name} ${f.id} ${f.fixed}`),
    ['libcrypto3 ALPINE-CVE-2024-1 3.1.4-r5'],
  );
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /ALPINE-CVE-2024-3: .*not a version!/);
});
