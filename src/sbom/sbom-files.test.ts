import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveImage } from '../analysis/resolve.js';
import { OciLayout } from '../transports/layout/index.js';
import { writeLayoutImage } from '../test/sbom-fixtures.js';
import { catalogImage } from './catalog.js';
import { toSpdx } from './spdx.js';

const require = createRequire(import.meta.url);
const SCHEMA = '/work/shared/fixtures/schemas/spdx-2.3.schema.json';
const INFO = '/var/lib/dpkg/info';
const skip =
  existsSync(`${INFO}/bash.list`) && existsSync(`${INFO}/bash.md5sums`) ? false : 'bash is not a dpkg package here';
const dir = mkdtempSync(join(tmpdir(), 'kura-sbom-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest();

/** The image: this machine's bash (status stanza, .list, .md5sums), a distroless package and an apk database. */
async function image() {
  const stanza = execFileSync('dpkg-query', ['-s', 'bash'], { encoding: 'utf8' });
  const motd = Buffer.from('welcome\n');
  const z = `Z:Q1${sha1(motd).toString('base64')}`;
  const apk = `P:kura-apk\nV:1.0-r0\nA:x86_64\nF:etc\nR:motd\n${z}\nF:usr/bin\nR:nohash\n\n`;
  const layout = join(dir, 'layout');
  await writeLayoutImage(layout, 'v1', [
    {
      'var/lib/dpkg/status': stanza,
      'var/lib/dpkg/info/bash.list': readFileSync(`${INFO}/bash.list`),
      'var/lib/dpkg/info/bash.md5sums': readFileSync(`${INFO}/bash.md5sums`),
      'var/lib/dpkg/status.d/tzdata': 'Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n',
      'var/lib/dpkg/status.d/tzdata.md5sums': `${md5(Buffer.from('utc'))}  usr/share/zoneinfo/UTC\n`,
      'lib/apk/db/installed': apk,
    },
  ]);
  return catalogImage(await resolveImage(await new OciLayout(layout).get('v1')), { files: true });
}

test('--files: dpkg .list paths with the MD5 that md5sums and Conffiles state, apk Z: as SHA-1', { skip }, async () => {
  const sbom = await image();
  const bash = sbom.packages.find((p) => p.name === 'bash')!;
  const list = readFileSync(`${INFO}/bash.list`, 'utf8')
    .split('\n')
    .filter((l) => l && l !== '/.');
  assert.deepEqual(
    bash.files!.map((f) => f.path),
    list,
  );
  const sums = new Map(bash.files!.filter((f) => f.checksums).map((f) => [f.path, f.checksums![0]!]));
  // The bytes on this machine are the ground truth for an unmodified file; dpkg-query for the conffiles.
  assert.deepEqual(sums.get('/bin/bash'), { algorithm: 'MD5', value: md5(readFileSync('/bin/bash')) });
  const conffiles = execFileSync('dpkg-query', ['-W', '-f=${Conffiles}', 'bash'], { encoding: 'utf8' });
  for (const [, path, sum] of conffiles.matchAll(/^\s*(\S+)\s+([0-9a-f]{32})/gm))
    assert.deepEqual(sums.get(path!), { algorithm: 'MD5', value: sum }, path);
  const md5sums = readFileSync(`${INFO}/bash.md5sums`, 'utf8').trim().split('\n');
  assert.equal(sums.size, md5sums.length + [...conffiles.matchAll(/^\s*\//gm)].length);
  // Directories have no checksum.
  assert.equal(bash.files!.find((f) => f.path === '/usr/share/doc')!.checksums, undefined);

  const tz = sbom.packages.find((p) => p.name === 'tzdata')!;
  assert.deepEqual(tz.files, [
    { path: '/usr/share/zoneinfo/UTC', checksums: [{ algorithm: 'MD5', value: md5(Buffer.from('utc')) }] },
  ]);
  const apk = sbom.packages.find((p) => p.name === 'kura-apk')!;
  assert.deepEqual(apk.files, [
    { path: '/etc/motd', checksums: [{ algorithm: 'SHA1', value: sha1(Buffer.from('welcome\n')).toString('hex') }] },
    { path: '/usr/bin/nohash' },
  ]);
});

test(
  'SPDX --files: a File per checksummed path, CONTAINS from its package, valid against the SPDX 2.3 schema',
  { skip: skip || (existsSync(SCHEMA) ? false : `${SCHEMA} is missing (the team's shared fixtures)`) },
  async () => {
    const sbom = await image();
    const doc = toSpdx(sbom) as {
      packages: { SPDXID: string; name: string }[];
      files?: { SPDXID: string; fileName: string; checksums: { algorithm: string; checksumValue: string }[] }[];
      relationships: { spdxElementId: string; relatedSpdxElement: string; relationshipType: string }[];
    };
    const Ajv = require('ajv') as typeof import('ajv').default;
    const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as { $schema?: string };
    delete schema.$schema;
    const validate = ajv.compile(schema);
    assert.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 3)));

    const checksummed = sbom.packages.flatMap((p) => (p.files ?? []).filter((f) => f.checksums));
    assert.equal(doc.files?.length, checksummed.length);
    assert.equal(new Set(doc.files!.map((f) => f.SPDXID)).size, doc.files!.length, 'file ids are unique');
    const owner = new Map(doc.packages.map((p) => [p.SPDXID, p.name]));
    const fileOf = new Map(doc.files!.map((f) => [f.SPDXID, f]));
    const contains = doc.relationships.filter(
      (r) => r.relationshipType === 'CONTAINS' && fileOf.has(r.relatedSpdxElement),
    );
    assert.equal(contains.length, doc.files!.length);
    const bashBin = doc.files!.find((f) => f.fileName === '/bin/bash')!;
    assert.deepEqual(bashBin.checksums, [{ algorithm: 'MD5', checksumValue: md5(readFileSync('/bin/bash')) }]);
    assert.equal(owner.get(contains.find((r) => r.relatedSpdxElement === bashBin.SPDXID)!.spdxElementId), 'bash');
    const motd = doc.files!.find((f) => f.fileName === '/etc/motd')!;
    assert.equal(owner.get(contains.find((r) => r.relatedSpdxElement === motd.SPDXID)!.spdxElementId), 'kura-apk');

    // Without --files there are no File elements.
    const plain = toSpdx({ ...sbom, packages: sbom.packages.map((p) => ({ ...p, files: undefined })) });
    assert.equal((plain as { files?: unknown }).files, undefined);
  },
);
