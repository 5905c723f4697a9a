import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Descriptor } from '../oci/artifact.js';
import { digestOf } from '../oci/digest.js';
import { randomImage, randomIndex } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { distributionMissing, startDistribution, type Distribution } from './distribution.js';
import { KURA_MAIN, startKura, type KuraProcess } from './kura-process.js';
import { kuraRunner } from './helpers.js';
import { tempDir } from './tempdirs.js';

const run = promisify(execFile);
const dir = tempDir('kura-sign-cli-');
const env = { ...process.env, CI: '1', KURA_PASSWORD: 'test-pass' };
const kura = kuraRunner({ env, cwd: dir });
/** Runs kura expecting failure: the exit code and stderr. */
async function kuraFails(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await kura(...args);
  } catch (e) {
    const x = e as { code: number; stderr: string };
    return { code: x.code, stderr: x.stderr };
  }
  assert.fail(`kura ${args.join(' ')} succeeded`);
}

const KEY = join(dir, 'cosign.key');
const PUB = join(dir, 'cosign.pub');
const OTHER_PUB = join(dir, 'other.pub');

/** Fetches a manifest's bytes straight from a registry (no Kura code). */
async function rawManifest(host: string, repo: string, ref: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}
async function rawBlob(host: string, repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`http://${host}/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

let kuraServer: KuraProcess;
let dist: Distribution | undefined;
before(async () => {
  kuraServer = await startKura();
  if (!distributionMissing()) dist = await startDistribution();
  await kura('key', 'generate');
  await kura('key', 'generate', '--output-key-prefix', 'other');
});
after(async () => {
  await kuraServer?.stop();
  await dist?.stop();
});

/** The registries to run against: kura serve (referrers API) and Distribution 2.8.2 (none). */
function registries(): { name: string; host: () => string }[] {
  return [
    { name: 'kura serve', host: () => kuraServer.host },
    { name: 'Distribution 2.8.2', host: () => dist?.host ?? '' },
  ];
}

test(
  'key generate writes cosign files: an encrypted SIGSTORE key (0600) and a PEM public key; refuses to ' + 'overwrite',
  async () => {
    const key = readFileSync(KEY, 'utf8');
    assert.match(key, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    const body = JSON.parse(Buffer.from(key.split('\n').slice(1, -2).join(''), 'base64').toString()) as {
      kdf: { name: string; params: { N: number } };
      cipher: { name: string };
    };
    assert.equal(body.kdf.name, 'scrypt');
    assert.equal(body.kdf.params.N, 32768);
    assert.equal(body.cipher.name, 'nacl/secretbox');
    assert.equal(createPublicKey(readFileSync(PUB, 'utf8')).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const again = await kuraFails('key', 'generate');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^kura: error: .*cosign\.key exists; remove it or pick another --output-key-prefix\n$/);
  },
);

for (const r of registries()) {
  describe(`sign and verify against ${r.name}`, () => {
    const skip = r.name.startsWith('Distribution') ? distributionMissing() : undefined;
    let host: string;
    let index: Awaited<ReturnType<typeof randomIndex>>;
    before(async () => {
      if (skip) return;
      host = r.host();
      index = await randomIndex({ seed: 5 });
      await new RegistryClient({ registry: host }).repository('sig/app').write('v1', index);
    });

    test(
      'sign writes a .sig tag that node:crypto verifies straight from the stored bytes; verify finds it',
      { skip },
      async () => {
        const out = await kura('sign', '--key', KEY, '-a', 'team=blue', `${host}/sig/app:v1`);
        assert.match(out.stderr, /signing the index .* only; its children stay unsigned \(add --recursive/);
        const tag = `sha256-${index.descriptor.digest.slice(7)}.sig`;
        const sigManifest = await rawManifest(host, 'sig/app', tag);
        assert.equal(sigManifest.status, 200);
        const m = JSON.parse(sigManifest.body.toString()) as { layers: Descriptor[] };
        assert.equal(m.layers.length, 1);
        assert.equal(m.layers[0]!.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
        // The independent check: no Kura code between the registry's bytes and node:crypto.
        const payload = await rawBlob(host, 'sig/app', m.layers[0]!.digest);
        const sig = Buffer.from(m.layers[0]!.annotations!['dev.cosignproject.cosign/signature']!, 'base64');
        assert.ok(
          cryptoVerify('sha256', payload, createPublicKey(readFileSync(PUB, 'utf8')), sig),
          'the signature verifies with node:crypto',
        );
        assert.ok(
          !cryptoVerify('sha256', payload, createPublicKey(readFileSync(OTHER_PUB, 'utf8')), sig),
          'and not with another key',
        );
        const p = JSON.parse(payload.toString()) as {
          critical: {
            identity: { 'docker-reference': string };
            image: { 'docker-manifest-digest': string };
            type: string;
          };
          optional: Record<string, string>;
        };
        assert.equal(p.critical.type, 'cosign container image signature');
        assert.equal(
          p.critical.image['docker-manifest-digest'],
          digestOf((await rawManifest(host, 'sig/app', 'v1')).body),
        );
        assert.equal(p.critical.identity['docker-reference'], `${host}/sig/app`);
        assert.deepEqual(p.optional, { team: 'blue' });

        const v = await kura('verify', '--key', PUB, '--json', `${host}/sig/app:v1`);
        const lines = v.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as typeof p);
        assert.equal(lines.length, 1);
        assert.equal(lines[0]!.critical.image['docker-manifest-digest'], index.descriptor.digest);
        await kura('verify', '--key', PUB, '-a', 'team=blue', '--identity', `${host}/sig/app`, `${host}/sig/app:v1`);
      },
    );

    test(
      'verify exits 1 with one line: wrong key, wrong annotation, wrong identity, unsigned child',
      { skip },
      async () => {
        const wrongKey = await kuraFails('verify', '--key', OTHER_PUB, `${host}/sig/app:v1`);
        assert.equal(wrongKey.code, 1);
        assert.match(wrongKey.stderr, /^kura: error: no valid signature of .*no key verifies the signature\n$/);
        assert.match(
          (await kuraFails('verify', '--key', PUB, '-a', 'team=red', `${host}/sig/app:v1`)).stderr,
          /annotations differ/,
        );
        assert.match(
          (await kuraFails('verify', '--key', PUB, '--identity', `${host}/other/app`, `${host}/sig/app:v1`)).stderr,
          /signed for .*sig\/app, not .*other\/app/,
        );
        const child = (JSON.parse(index.manifest.toString()) as { manifests: Descriptor[] }).manifests[0]!;
        const unsigned = await kuraFails('verify', '--key', PUB, `${host}/sig/app@${child.digest}`);
        assert.equal(unsigned.code, 1);
        assert.match(unsigned.stderr, /no signatures found/);
      },
    );

    test(
      'sign --recursive --referrers: bundle referrers on the index and each child, verified by verify; both schemes ' +
        'found',
      { skip },
      async () => {
        const out = await kura('sign', '--key', KEY, '--recursive', '--referrers', '--json', `${host}/sig/app:v1`);
        const results = out.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { subject: string; stored: string; via: string });
        const children = (JSON.parse(index.manifest.toString()) as { manifests: Descriptor[] }).manifests;
        assert.deepEqual(
          results.map((x) => x.subject).sort(),
          [index.descriptor.digest, ...children.map((c) => c.digest)].sort(),
        );
        assert.ok(results.every((x) => x.via === 'referrers'));
        // The referrer as stored: an OCI 1.1 artifact with the bundle type, subject = the index; DSSE checked by
        // node:crypto.
        const ref = results.find((x) => x.subject === index.descriptor.digest)!;
        const m = JSON.parse((await rawManifest(host, 'sig/app', ref.stored)).body.toString()) as {
          artifactType: string;
          subject: Descriptor;
          layers: Descriptor[];
        };
        assert.equal(m.artifactType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
        assert.equal(m.subject.digest, index.descriptor.digest);
        const bundle = JSON.parse((await rawBlob(host, 'sig/app', m.layers[0]!.digest)).toString()) as {
          dsseEnvelope: { payloadType: string; payload: string; signatures: { sig: string }[] };
        };
        const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
        const t = Buffer.from(bundle.dsseEnvelope.payloadType);
        const pae = Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${payload.length} `), payload]);
        assert.ok(
          cryptoVerify(
            'sha256',
            pae,
            createPublicKey(readFileSync(PUB, 'utf8')),
            Buffer.from(bundle.dsseEnvelope.signatures[0]!.sig, 'base64'),
          ),
        );
        assert.equal(
          (JSON.parse(payload.toString()) as { subject: { digest: { sha256: string } }[] }).subject[0]!.digest.sha256,
          index.descriptor.digest.slice(7),
        );
        if (r.name.startsWith('Distribution')) {
          const schema = await rawManifest(host, 'sig/app', `sha256-${index.descriptor.digest.slice(7)}`);
          assert.equal(schema.status, 200, 'no referrers API: the referrers tag schema index is kept');
        }
        const both = await kura('verify', '--key', PUB, '--json', `${host}/sig/app:v1`);
        assert.equal(both.stdout.trim().split('\n').length, 2, 'the .sig tag signature and the bundle referrer');
        await kura('verify', '--key', PUB, `${host}/sig/app@${children[0]!.digest}`);
      },
    );

    test('attest and verify-attestation: .att tag and --referrers, filtered by --type', { skip }, async () => {
      const pred = join(dir, 'prov.json');
      writeFileSync(pred, JSON.stringify({ builder: { id: 'kura-test' } }));
      await kura('attest', '--key', KEY, '--predicate', pred, '--type', 'slsaprovenance', `${host}/sig/app:v1`);
      const sbom = join(dir, 'sbom.json');
      writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'x' }));
      await kura('attest', '--key', KEY, '--predicate', sbom, '--type', 'spdx', '--referrers', `${host}/sig/app:v1`);
      const all = (await kura('verify-attestation', '--key', PUB, '--json', `${host}/sig/app:v1`)).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { predicateType: string; predicate: unknown });
      assert.deepEqual(all.map((s) => s.predicateType).sort(), [
        'https://slsa.dev/provenance/v0.2',
        'https://spdx.dev/Document',
      ]);
      const prov = (
        await kura('verify-attestation', '--key', PUB, '--type', 'slsaprovenance', '--json', `${host}/sig/app:v1`)
      ).stdout
        .trim()
        .split('\n');
      assert.equal(prov.length, 1);
      assert.deepEqual((JSON.parse(prov[0]!) as { predicate: unknown }).predicate, { builder: { id: 'kura-test' } });
      const none = await kuraFails('verify-attestation', '--key', PUB, '--type', 'cyclonedx', `${host}/sig/app:v1`);
      assert.equal(none.code, 1);
      const wrong = await kuraFails('verify-attestation', '--key', OTHER_PUB, `${host}/sig/app:v1`);
      assert.match(wrong.stderr, /no key verifies/);
    });

    test('tree shows children, signatures and attestations from both schemes', { skip }, async () => {
      const g = JSON.parse((await kura('tree', '--json', `${host}/sig/app:v1`)).stdout) as {
        kind: string;
        children: { kind: string; via: string; children: { kind: string; via: string }[] }[];
      };
      assert.equal(g.kind, 'index');
      const kinds = g.children.map((c) => `${c.kind}/${c.via}`).sort();
      assert.deepEqual(kinds, [
        'attestation/referrers',
        'attestation/tag',
        'image/child',
        'image/child',
        'signature/referrers',
        'signature/tag',
      ]);
      for (const c of g.children.filter((x) => x.via === 'child'))
        assert.deepEqual(
          c.children.map((x) => `${x.kind}/${x.via}`),
          ['signature/referrers'],
        );
      const text = (await kura('tree', `${host}/sig/app:v1`)).stdout;
      assert.match(text, /^.*sig\/app@sha256:[0-9a-f]{64} \(index, \d+ B\)\n/);
      assert.match(text, /├── signature sha256:[0-9a-f]{64} \[tag sha256-[0-9a-f]{64}\.sig\]/);
    });
  });
}

test('sign and verify refuse bad input with one line each', async () => {
  const host = kuraServer.host;
  await new RegistryClient({ registry: host }).repository('bad/app').write('v1', await randomImage({ seed: 9 }));
  assert.match(
    (await kuraFails('sign', `${host}/bad/app:v1`)).stderr,
    /^kura: error: give the signing key with --key FILE/,
  );
  assert.match(
    (await kuraFails('sign', '--key', PUB, `${host}/bad/app:v1`)).stderr,
    /^kura: error: .*cosign\.pub holds no PEM private key/,
  );
  const wrongPass = await run(process.execPath, [KURA_MAIN, 'sign', '--key', KEY, `${host}/bad/app:v1`], {
    env: { ...env, KURA_PASSWORD: 'nope' },
    cwd: dir,
  }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((wrongPass as { code: number }).code, 1);
  assert.match(
    (wrongPass as { stderr: string }).stderr,
    /^kura: error: .*cosign\.key: wrong passphrase \(decryption failed\); set COSIGN_PASSWORD or KURA_PASSWORD/,
  );
  assert.match(
    (await kuraFails('verify', '--key', KEY, `${host}/bad/app:v1`)).stderr,
    /is an encrypted private key; verify with its public key/,
  );
  assert.match((await kuraFails('verify', `${host}/bad/app:v1`)).stderr, /give the public key with --key FILE/);
  assert.match(
    (await kuraFails('attest', '--key', KEY, '--predicate', PUB, `${host}/bad/app:v1`)).stderr,
    /--predicate .* is not a readable JSON file/,
  );
  assert.match(
    (await kuraFails('attest', '--key', KEY, '--predicate', PUB, '--type', 'nonsense', `${host}/bad/app:v1`)).stderr,
    /--type takes .* or a URI, not "nonsense"/,
  );
});

test(
  'the passphrase comes from KURA_PASSWORD, else COSIGN_PASSWORD; with neither and no terminal, one line says ' + 'so',
  async () => {
    const { KURA_PASSWORD: _, ...bare } = env;
    void _;
    await run(process.execPath, [KURA_MAIN, 'key', 'generate', '--output-key-prefix', 'cos'], {
      env: { ...bare, COSIGN_PASSWORD: 'c' },
      cwd: dir,
    });
    const host = kuraServer.host;
    await new RegistryClient({ registry: host }).repository('pw/app').write('v1', await randomImage({ seed: 10 }));
    await run(process.execPath, [KURA_MAIN, 'sign', '--key', join(dir, 'cos.key'), `${host}/pw/app:v1`], {
      env: { ...bare, COSIGN_PASSWORD: 'c' },
      cwd: dir,
    });
    await kura('verify', '--key', join(dir, 'cos.pub'), `${host}/pw/app:v1`);
    const none = await run(process.execPath, [KURA_MAIN, 'sign', '--key', join(dir, 'cos.key'), `${host}/pw/app:v1`], {
      env: { ...bare, COSIGN_PASSWORD: undefined },
      cwd: dir,
    }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((none as { code: number }).code, 1);
    assert.equal(
      (none as { stderr: string }).stderr,
      'kura: error: private key needs a passphrase: set KURA_PASSWORD or COSIGN_PASSWORD (no terminal to ask on)\n',
    );
  },
);
