/**
 * `kura sbom --attest` and `kura scan --attest` against kura serve: an SBOM / vulnerability report made, signed and
 * pushed in one step, read back by `kura verify-attestation --type cyclonedx|spdx|vuln` and checked by node:crypto.
 */
import assert from 'node:assert/strict';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startKura, type KuraProcess } from './kura-process.js';
import { writeLayoutImage } from './sbom-fixtures.js';
import { tempDir } from './tempdirs.js';
import { kuraFailsRunner, kuraRunner } from './helpers.js';

const dir = tempDir('kura-attest-docs-');
const env = { ...process.env, CI: '1', KURA_PASSWORD: 'attest-pass' };
const kura = kuraRunner({ env, cwd: dir });
const kuraFails = kuraFailsRunner({ env, cwd: dir });
const pj = (name: string, version: string) => JSON.stringify({ name, version, license: 'MIT' });

let server: KuraProcess;
let ref: string;
let digest: string;
const db = join(dir, 'db');
before(async () => {
  server = await startKura();
  const layout = join(dir, 'app');
  await writeLayoutImage(layout, 'v1', [
    { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n' },
    { 'app/node_modules/lodash-es/package.json': pj('lodash-es', '4.17.20') },
  ]);
  ref = `${server.host}/attest/app:v1`;
  await kura('copy', '-q', `oci:${layout}:v1`, `docker://${ref}`);
  digest = (await kura('digest', `docker://${ref}`)).stdout.trim();
  await kura('key', 'generate');
  await kura('key', 'generate', '--output-key-prefix', 'other');
  // One OSV record written here (no shared fixture): lodash-es before 4.17.21.
  const osv = join(dir, 'osv');
  mkdirSync(osv);
  writeFileSync(
    join(osv, 'GHSA-kura-test-0001.json'),
    JSON.stringify({
      id: 'GHSA-kura-test-0001',
      modified: '2024-01-01T00:00:00Z',
      summary: 'a test advisory',
      affected: [
        {
          package: { ecosystem: 'npm', name: 'lodash-es' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
        },
      ],
      database_specific: { severity: 'HIGH' },
    }),
  );
  await kura('db', 'import', '--db-dir', db, osv);
});
after(async () => {
  await server?.stop();
});

interface Stmt {
  predicateType: string;
  subject: { digest: { sha256: string } }[];
  predicate: Record<string, unknown>;
}
const statements = (out: string) =>
  out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Stmt);

test('sbom --attest: the printed CycloneDX and SPDX documents are the verified predicates', async () => {
  const cdx = await kura('sbom', '--attest', '--key', 'cosign.key', '--format', 'cyclonedx-json', ref);
  assert.match(cdx.stderr, /attested https:\/\/cyclonedx\.org\/bom of sha256:\S+ -> sha256-\S+\.att/);
  const spdxFile = join(dir, 'sbom.spdx.json');
  await kura('sbom', '--attest', '--key', 'cosign.key', '-o', `spdx-json=${spdxFile}`, ref);
  const v = statements(
    (await kura('verify-attestation', '--key', 'cosign.pub', '--type', 'cyclonedx', '--json', ref)).stdout,
  );
  assert.equal(v.length, 1);
  assert.equal(v[0]!.subject[0]!.digest.sha256, digest.slice(7));
  assert.deepEqual(v[0]!.predicate, JSON.parse(cdx.stdout));
  const s = statements(
    (await kura('verify-attestation', '--key', 'cosign.pub', '--type', 'spdx', '--json', ref)).stdout,
  );
  assert.deepEqual(s[0]!.predicate, JSON.parse(readFileSync(spdxFile, 'utf8')));
  const wrong = await kuraFails('verify-attestation', '--key', 'other.pub', '--type', 'cyclonedx', ref);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^kura: error: no valid https:\/\/cyclonedx\.org\/bom attestation of [^\n]*\n$/);
});

test('scan --attest: a cosign vuln predicate holding the report; node:crypto checks the stored bytes', async () => {
  const out = await kura('scan', '--db-dir', db, '--attest', '--key', 'cosign.key', '--format', 'json', ref);
  assert.match(out.stderr, /attested https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1 of sha256:/);
  const v = statements(
    (await kura('verify-attestation', '--key', 'cosign.pub', '--type', 'vuln', '--json', ref)).stdout,
  );
  assert.equal(v.length, 1);
  const p = v[0]!.predicate as { scanner: { uri: string; result: unknown }; metadata: { scanFinishedOn: string } };
  assert.match(p.scanner.uri, /^pkg:npm\/ocikura@/);
  assert.deepEqual(p.scanner.result, JSON.parse(out.stdout));
  assert.match(JSON.stringify(p.scanner.result), /GHSA-kura-test-0001/);
  assert.ok(!Number.isNaN(Date.parse(p.metadata.scanFinishedOn)));
  // Independent: the .att layers' DSSE signatures, verified over PAE with node:crypto, no Kura code.
  const base = `http://${server.host}/v2/attest/app`;
  const m = (await (
    await fetch(`${base}/manifests/sha256-${digest.slice(7)}.att`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    })
  ).json()) as { layers: { digest: string; annotations: Record<string, string> }[] };
  const types = m.layers.map((l) => l.annotations.predicateType).sort();
  assert.deepEqual(types, [
    'https://cosign.sigstore.dev/attestation/vuln/v1',
    'https://cyclonedx.org/bom',
    'https://spdx.dev/Document',
  ]);
  const pub = createPublicKey(readFileSync(join(dir, 'cosign.pub')));
  for (const l of m.layers) {
    const env = (await (await fetch(`${base}/blobs/${l.digest}`)).json()) as {
      payloadType: string;
      payload: string;
      signatures: { sig: string }[];
    };
    const body = Buffer.from(env.payload, 'base64');
    const pae = Buffer.concat([
      Buffer.from(`DSSEv1 ${env.payloadType.length} ${env.payloadType} ${body.length} `),
      body,
    ]);
    assert.ok(cryptoVerify('sha256', pae, pub, Buffer.from(env.signatures[0]!.sig, 'base64')), l.digest);
  }
});

test('--attest mistakes are one line: no key, key without --attest, a text format, an SBOM file', async () => {
  const one = async (args: string[], re: RegExp) => {
    const r = await kuraFails(...args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  };
  await one(['sbom', '--attest', '--format', 'cyclonedx-json', ref], /^kura: error: --attest needs the signing key/);
  await one(['sbom', '--key', 'cosign.key', '--format', 'cyclonedx-json', ref], /--key signs with --attest/);
  await one(['sbom', '--attest', '--key', 'cosign.key', ref], /^kura: error: --attest pushes spdx-json or cyclonedx/);
  writeFileSync(join(dir, 'x.json'), '{}');
  await one(['scan', '--db-dir', db, '--attest', '--key', 'cosign.key', '--sbom', 'x.json'], /give IMAGE, not --sbom/);
});
