// The edges of a scan: package → OSV query, SBOM files from other tools, and ignore files.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SbomPackage } from '../sbom/model.js';
import { distroEcosystems, normalizeName, queryFor } from './ecosystems.js';
import { applyIgnores, parseIgnoreFile } from './ignore.js';
import type { Finding } from './match.js';
import { readSbomFile } from './sbom-file.js';

const pkg = (type: SbomPackage['type'], name: string, version: string, extra: Partial<SbomPackage> = {}) =>
  ({ type, name, version, purl: '', licenses: [], layer: 0, locations: [], foundBy: 't', ...extra }) as SbomPackage;

test('distro releases become OSV ecosystems; nothing is guessed without a release', () => {
  assert.deepEqual(distroEcosystems({ id: 'debian', versionId: '12' }), ['Debian:12']);
  assert.deepEqual(distroEcosystems({ id: 'ubuntu', versionId: '22.04' }), ['Ubuntu:22.04', 'Ubuntu:22.04:LTS']);
  assert.deepEqual(distroEcosystems({ id: 'alpine', versionId: '3.19.1' }), ['Alpine:v3.19']);
  assert.deepEqual(distroEcosystems({ id: 'rocky', versionId: '9.3' }), ['Rocky Linux:9']);
  assert.deepEqual(distroEcosystems({ id: 'almalinux', versionId: '8.9' }), ['AlmaLinux:8']);
  assert.deepEqual(distroEcosystems({ id: 'rhel', versionId: '9.2' }), ['Red Hat:enterprise_linux:9:']);
  assert.deepEqual(distroEcosystems({ id: 'debian' }), []);
  assert.deepEqual(distroEcosystems({ id: 'arch', versionId: '1' }), []);
});

test('queries: source package and version for deb, binary name for rpm, normalised language names', () => {
  const debian = { id: 'debian', versionId: '12' };
  assert.deepEqual(
    queryFor(pkg('deb', 'libssl3', '3.0.11-1+b1', { source: { name: 'openssl', version: '3.0.11-1' } }), debian),
    {
      ecosystems: ['Debian:12'],
      name: 'openssl',
      version: '3.0.11-1',
    },
  );
  assert.deepEqual(
    queryFor(pkg('rpm', 'openssl-libs', '1:3.0.7-24.el9', { source: { name: 'openssl-3.0.7-24.el9.src.rpm' } }), {
      id: 'rocky',
      versionId: '9.3',
    }),
    {
      ecosystems: ['Rocky Linux:9'],
      name: 'openssl-libs',
      version: '1:3.0.7-24.el9',
    },
  );
  assert.equal(normalizeName('PyPI', 'Zope.Interface__x'), 'zope-interface-x');
  assert.equal(normalizeName('npm', '@Scope/Name'), '@Scope/Name');
  assert.equal(normalizeName('Debian:12', 'LibFoo'), 'libfoo');
});

test('SBOM files: SPDX and CycloneDX PURLs with upstream and distro qualifiers, as syft writes them', () => {
  const spdx = {
    spdxVersion: 'SPDX-2.3',
    packages: [
      {
        externalRefs: [
          {
            referenceType: 'purl',
            referenceLocator:
              'pkg:deb/debian/passwd@1:4.13%2Bdfsg1-1?arch=amd64&upstream=shadow%401:4.13%2Bdfsg1-1&distro=debian-12',
          },
        ],
      },
      {
        externalRefs: [
          { referenceType: 'purl', referenceLocator: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1' },
        ],
      },
      { externalRefs: [{ referenceType: 'cpe23Type', referenceLocator: 'cpe:2.3:a:x:y:1:*:*:*:*:*:*:*' }] },
    ],
  };
  const s = readSbomFile(JSON.stringify(spdx), 's.json');
  assert.deepEqual(s.distro, { id: 'debian', versionId: '12' });
  assert.deepEqual(
    s.packages.map((p) => [p.type, p.name, p.version, p.source, p.properties]),
    [
      ['deb', 'passwd', '1:4.13+dfsg1-1', { name: 'shadow', version: '1:4.13+dfsg1-1' }, undefined],
      ['java', 'log4j-core', '2.14.1', undefined, { 'maven.groupId': 'org.apache.logging.log4j' }],
    ],
  );
  const cdx = {
    bomFormat: 'CycloneDX',
    components: [{ purl: 'pkg:npm/%40babel/traverse@7.23.0', components: [{ purl: 'pkg:pypi/pyyaml@5.3.1' }] }],
  };
  assert.deepEqual(
    readSbomFile(JSON.stringify(cdx), 'c.json').packages.map((p) => `${p.type} ${p.name} ${p.version}`),
    ['npm @babel/traverse 7.23.0', 'python pyyaml 5.3.1'],
  );
  assert.throws(() => readSbomFile('{"foo":1}', 'x.json'), /x\.json: neither SPDX .* nor CycloneDX/);
  assert.throws(() => readSbomFile('nope', 'x.json'), /x\.json: not JSON/);
});

test('ignore files: ids with reasons from comments or the line, exp: dates, aliases match', () => {
  const rules = parseIgnoreFile(
    '# not reachable\n# (reviewed 2024-05)\nCVE-2024-1\n' +
      'GHSA-aaaa-bbbb-cccc exp:2024-06-30 vendor says benign\n\nCVE-2024-3\n',
    '.trivyignore',
  );
  assert.deepEqual(rules, [
    { id: 'CVE-2024-1', line: 3, reason: 'not reachable (reviewed 2024-05)' },
    { id: 'GHSA-aaaa-bbbb-cccc', line: 4, expires: '2024-06-30', reason: 'vendor says benign' },
    { id: 'CVE-2024-3', line: 6 },
  ]);
  assert.throws(
    () => parseIgnoreFile('CVE-1 exp:30/06/2024\n', '.trivyignore'),
    /\.trivyignore:1: "exp:30\/06\/2024" is not a date/,
  );
  const f = (id: string, aliases: string[]) => ({ id, aliases }) as unknown as Finding;
  const findings = [f('CVE-2024-1', []), f('CVE-2024-2', ['GHSA-aaaa-bbbb-cccc']), f('CVE-2024-4', [])];
  const on = (d: string) => applyIgnores(findings, rules, new Date(`${d}T12:00:00Z`));
  assert.deepEqual(
    on('2024-06-30').kept.map((x) => x.id),
    ['CVE-2024-4'],
  );
  // The day after exp: the rule is void.
  assert.deepEqual(
    on('2024-07-01').kept.map((x) => x.id),
    ['CVE-2024-2', 'CVE-2024-4'],
  );
  assert.equal(on('2024-07-01').suppressed[0]!.rule.reason, 'not reachable (reviewed 2024-05)');
});
