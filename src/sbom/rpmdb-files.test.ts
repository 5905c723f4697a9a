import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveImage } from '../analysis/resolve.js';
import { OciLayout } from '../transports/layout/index.js';
import { hasTool } from '../test/kura-process.js';
import { berkeleyPackages, ndbPackages, rpmbuild, rpmdb, rpmdbHeaders } from '../test/rpm-fixtures.js';
import { writeLayoutImage } from '../test/sbom-fixtures.js';
import { catalogImage } from './catalog.js';
import { readBerkeleyHashValues, readNdbBlobs } from './rpmdb-files.js';

/*
 * The fixtures hold real rpm headers: rpmbuild builds the packages and rpm installs them (--justdb) into a SQLite
 * rpmdb, whose header blobs are then stored
 * - in a BerkeleyDB hash `Packages` written by libdb itself (db5.3_load from Debian's db5.3-util: Debian's rpm 4.18
 *   reads BerkeleyDB through its own bdb_ro backend but cannot write it), checked against `rpm -qa` through bdb_ro;
 * - in an NDB `Packages.db` laid out by src/test/rpm-fixtures.ts (Debian's rpm has no NDB backend at all), checked
 *   against `rpm -qa` on the SQLite database holding the same headers.
 */
const skip =
  !hasTool('rpmbuild') || !hasTool('db5.3_load')
    ? 'rpmbuild or db5.3_load is missing (apt-get install rpm db5.3-util)'
    : false;
const dir = mkdtempSync(join(tmpdir(), 'kura-rpmdb-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const QF = '%{NAME}|%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n';
let headers: [number, Buffer][] = [];
let sqliteTruth: string[] = [];

/** What `rpm -qa` lists from a database directory (`backend` bdb_ro for BerkeleyDB). */
function rpmQa(dbpath: string, backend?: string): string[] {
  const define = backend ? ['--define', `_db_backend ${backend}`] : [];
  const out = execFileSync('rpm', ['--dbpath', dbpath, ...define, '-qa', '--qf', QF], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.trim().split('\n').sort();
}

before(() => {
  if (skip) return;
  // Six packages, so that every bucket of the small hash table holds one: rpm's bdb_ro refuses a never-written
  // (all-zero) bucket page, which libdb leaves for an empty bucket and which real databases never have.
  const rpms = [
    rpmbuild(dir, 'kura-base', '1.2', '3.el7', { epoch: 2, license: 'MIT' }),
    rpmbuild(dir, 'kura-tool', '0.9.1', '1.el7', { license: 'GPL-2.0-or-later', requires: 'kura-base' }),
    rpmbuild(dir, 'kura-libs', '4.0', '7.amzn2', { epoch: 1, license: 'BSD-3-Clause' }),
    rpmbuild(dir, 'kura-data', '2024.1', '1', { license: 'CC0-1.0' }),
    rpmbuild(dir, 'kura-doc', '1.0', '0.1.rc1', { license: 'GFDL-1.3-only' }),
    rpmbuild(dir, 'kura-extra', '3.3.3', '5.sles15', { license: 'Apache-2.0' }),
  ];
  rpmdb(join(dir, 'sqlite'), rpms);
  headers = rpmdbHeaders(join(dir, 'sqlite'));
  sqliteTruth = rpmQa(join(dir, 'sqlite'));
});

const listed = async (layers: Parameters<typeof writeLayoutImage>[2], tag: string) => {
  await writeLayoutImage(join(dir, 'layout'), tag, layers);
  return catalogImage(await resolveImage(await new OciLayout(join(dir, 'layout')).get(tag)));
};
const rows = (s: Awaited<ReturnType<typeof listed>>) =>
  s.packages.filter((p) => p.type === 'rpm').map((p) => `${p.name}|${p.version}`);

for (const o of [
  { pageSize: 512, bigEndian: false, what: '512-byte pages (every header on a chain of overflow pages)' },
  { pageSize: 4096, bigEndian: true, what: 'big-endian 4 KiB pages' },
  { pageSize: 65536, bigEndian: false, what: '64 KiB pages (headers kept on the bucket page)' },
]) {
  test(`rpm BerkeleyDB Packages, ${o.what}: every package rpm -qa (bdb_ro) lists, epochs kept`, { skip }, async () => {
    const dbpath = join(dir, `bdb-${o.pageSize}-${o.bigEndian}`);
    const file = berkeleyPackages(dbpath, headers, o);
    const truth = rpmQa(dbpath, 'bdb_ro');
    assert.deepEqual(truth, sqliteTruth);
    assert.equal(readBerkeleyHashValues(file).length, headers.length);
    const sbom = await listed(
      [{ 'etc/os-release': 'ID="centos"\nVERSION_ID="7"\n', 'var/lib/rpm/Packages': file }],
      `bdb${o.pageSize}`,
    );
    assert.deepEqual(rows(sbom).sort(), truth);
    assert.deepEqual(sbom.warnings, []);
    const base = sbom.packages.find((p) => p.name === 'kura-base')!;
    assert.equal(
      base.purl,
      'pkg:rpm/centos/kura-base@1.2-3.el7?arch=noarch&distro=centos-7&epoch=2&upstream=kura-base-1.2-3.el7.src.rpm',
    );
    assert.deepEqual(base.locations, ['/var/lib/rpm/Packages']);
    assert.deepEqual(sbom.packages.find((p) => p.name === 'kura-tool')!.dependsOn, ['kura-base']);
  });
}

test(
  'rpm NDB Packages.db (SUSE): every package of the same headers, and the layer that added each',
  { skip },
  async () => {
    const ndb1 = ndbPackages(headers.slice(0, 2));
    const ndb2 = ndbPackages(headers);
    assert.equal(readNdbBlobs(ndb2).length, headers.length);
    const sbom = await listed(
      [
        { 'etc/os-release': 'ID="sles"\nVERSION_ID="15.5"\n', 'usr/lib/sysimage/rpm/Packages.db': ndb1 },
        { 'usr/lib/sysimage/rpm/Packages.db': ndb2 },
      ],
      'ndb',
    );
    assert.deepEqual(rows(sbom).sort(), sqliteTruth);
    assert.deepEqual(sbom.warnings, []);
    // rpm's own numbering of the packages: the first two went into the first layer's database.
    const first = execFileSync('rpm', ['--dbpath', join(dir, 'sqlite'), '-qa', '--qf', '%{DBINSTANCE} %{NAME}\n'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([n]) => headers.slice(0, 2).some(([h]) => h === Number(n)))
      .map(([, name]) => name);
    assert.equal(first.length, 2);
    for (const p of sbom.packages) assert.equal(p.layer, first.includes(p.name) ? 0 : 1, p.name);
    assert.match(sbom.packages[0]!.purl, /^pkg:rpm\/sles\/.*distro=sles-15\.5/);
  },
);

test(
  'rpm: a truncated or corrupt database is a warning naming the file and layer; the rest is listed',
  { skip },
  async () => {
    const bdb = berkeleyPackages(join(dir, 'bdb-cut'), headers, { pageSize: 512, bigEndian: false });
    const ndb = ndbPackages(headers);
    const badSlot = Buffer.from(ndb);
    badSlot.write('Blot', 48, 'latin1');
    // An overflow page's type byte changed: the chain through it is broken.
    const badChain = Buffer.from(bdb);
    const overflow = [...Array(badChain.length / 512).keys()].find((n) => badChain[n * 512 + 25] === 7)!;
    badChain[overflow * 512 + 25] = 0;
    const sbom = await listed(
      [
        { 'var/lib/rpm/Packages': bdb.subarray(0, bdb.length >> 1), 'usr/share/rpm/Packages': badChain },
        { 'usr/lib/sysimage/rpm/Packages.db': badSlot, 'var/lib/rpm/Packages.db': ndb.subarray(0, 4096 + 40) },
        { 'var/lib/dpkg/status': 'Package: kura-deb\nStatus: install ok installed\nVersion: 1:2.0-1\n\n' },
        { 'usr/lib/sysimage/rpm/rpmdb.sqlite': rpmdb(join(dir, 'sqlite2'), []) },
      ],
      'broken',
    );
    const warnings = sbom.warnings.join('\n');
    assert.match(warnings, /\/var\/lib\/rpm\/Packages in layer 0 is not a readable rpm database \(truncated: /);
    assert.match(
      warnings,
      /\/usr\/share\/rpm\/Packages in layer 0 is not a readable rpm database \(page \d+ is not an/,
    );
    assert.match(warnings, /\/usr\/lib\/sysimage\/rpm\/Packages\.db in layer 1 .*\(bad slot magic at byte 48\)/);
    assert.match(warnings, /\/var\/lib\/rpm\/Packages\.db in layer 1 .*\(truncated: package \d+'s blob/);
    assert.equal(sbom.warnings.length, 4);
    assert.deepEqual(
      sbom.packages.map((p) => `${p.type}:${p.name}@${p.version}`),
      ['deb:kura-deb@1:2.0-1'],
    );
  },
);
