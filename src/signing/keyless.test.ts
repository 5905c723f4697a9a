/** Tests of keyless verification against a private sigstore (Fulcio + CT log + Rekor from @sigstore/mock). */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fakeSigstore, type FakeSigstore } from '../test/fake-sigstore.js';
import { tempDir } from '../test/tempdirs.js';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  keylessPolicy,
  loadTrustedRoot,
  policyTrust,
  verifyKeylessBundle,
  verifyKeylessEnvelope,
  verifyKeylessLayer,
  type KeylessPolicy,
} from './keyless.js';

const ID = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const ISS = 'https://token.actions.githubusercontent.com';
const dir = tempDir('kura-keyless-');
let sigstore: FakeSigstore;
let other: FakeSigstore;
let policy: (o?: Parameters<typeof keylessPolicy>[1]) => KeylessPolicy;
let otherPolicy: KeylessPolicy;
const payload = Buffer.from(
  '{"critical":{"identity":{"docker-reference":"r/app"},"image":{},"type":"x"},"optional":null}',
);

before(async () => {
  [sigstore, other] = await Promise.all([fakeSigstore(), fakeSigstore()]);
  writeFileSync(join(dir, 'root.json'), JSON.stringify(sigstore.trustedRoot));
  writeFileSync(join(dir, 'other.json'), JSON.stringify(other.trustedRoot));
  const trust = await loadTrustedRoot(join(dir, 'root.json'));
  policy = (o = { identity: ID, issuer: ISS }) => keylessPolicy(trust, o);
  otherPolicy = keylessPolicy(await loadTrustedRoot(join(dir, 'other.json')), { identity: ID, issuer: ISS });
});

test('a keyless cosign .sig layer verifies against its trusted root, exactly and by regexp', async () => {
  const { signature, annotations } = await sigstore.signLayer(payload, ID, ISS);
  const v = verifyKeylessLayer(payload, annotations, signature, policy());
  assert.ok(v.ok, v.ok ? '' : v.reason);
  assert.equal(v.signer.identity?.subjectAlternativeName, ID);
  const re = policy({ identityRegexp: '^https://github\\.com/acme/', issuerRegexp: 'githubusercontent' });
  assert.ok(verifyKeylessLayer(payload, annotations, signature, re).ok);
});

test('keyless rejections: identity, issuer, regexp, tampered payload, swapped signature, another root', async () => {
  const { signature, annotations } = await sigstore.signLayer(payload, ID, ISS);
  const reason = (p: KeylessPolicy, body = payload, sig = signature, ann = annotations) => {
    const v = verifyKeylessLayer(body, ann, sig, p);
    assert.ok(!v.ok, 'must be rejected');
    return v.reason;
  };
  assert.match(reason(policy({ identity: 'mallory@example.com', issuer: ISS })), /identity is https:.*, not mallory/);
  assert.match(reason(policy({ identity: ID, issuer: 'https://accounts.google.com' })), /OIDC issuer is .*, not/);
  assert.match(reason(policy({ identityRegexp: '^https://gitlab', issuer: ISS })), /does not match \^https:\/\/gitlab/);
  assert.match(reason(policy(), Buffer.from(payload.toString().replace('r/app', 'r/evil'))), /keyless verification/);
  const second = await sigstore.signLayer(Buffer.from('{}'), ID, ISS);
  assert.match(reason(policy(), payload, second.signature), /keyless verification failed/);
  assert.match(reason(otherPolicy), /keyless verification failed/);
  const noBundle = { ...annotations };
  delete noBundle['dev.sigstore.cosign/bundle'];
  assert.match(reason(policy(), payload, signature, noBundle), /no Rekor bundle annotation/);
});

test('a keyless sigstore bundle v0.3 (DSSE) verifies and returns its statement; others are refused', async () => {
  const stmt = Buffer.from(
    '{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}',
  );
  const bundle = await sigstore.dsseBundle(stmt, ID, ISS);
  const v = verifyKeylessBundle(bundle, policy());
  assert.ok(v.ok, v.ok ? '' : v.reason);
  assert.deepEqual(v.payload, stmt);
  assert.ok(!verifyKeylessBundle(bundle, otherPolicy).ok);
  const w = verifyKeylessBundle(bundle, policy({ identity: 'someone@else', issuer: ISS }));
  assert.ok(!w.ok && /identity/.test(w.reason));
});

test('the policy needs an identity and an issuer; bad regexps and roots are named', async () => {
  const trust = await loadTrustedRoot(join(dir, 'root.json'));
  assert.throws(() => keylessPolicy(trust, { issuer: ISS }), /needs --certificate-identity/);
  assert.throws(() => keylessPolicy(trust, { identity: ID }), /needs --certificate-oidc-issuer/);
  assert.throws(() => keylessPolicy(trust, { identityRegexp: '(', issuer: ISS }), /--certificate-identity-regexp/);
  writeFileSync(join(dir, 'bad.json'), '{"tlogs": 5}');
  await assert.rejects(loadTrustedRoot(join(dir, 'bad.json')), /not a sigstore trusted root|cannot read/);
  await assert.rejects(loadTrustedRoot(join(dir, 'missing.json')), /cannot read the trusted root/);
});

test('a keyless .att DSSE envelope verifies; a changed statement or another identity is refused', async () => {
  const stmt = Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"predicateType":"x"}');
  const { envelope, annotations } = await sigstore.attLayer(stmt, ID, ISS, 'x');
  const env = JSON.parse(envelope.toString()) as Parameters<typeof verifyKeylessEnvelope>[0];
  const v = verifyKeylessEnvelope(env, annotations, policy());
  assert.ok(v.ok, v.ok ? '' : v.reason);
  assert.deepEqual(v.payload, stmt);
  const changed = { ...env, payload: Buffer.from(stmt.toString().replace('"x"', '"y"')).toString('base64') };
  const c = verifyKeylessEnvelope(changed, annotations, policy());
  assert.ok(!c.ok && /keyless verification failed/.test(c.reason), c.ok ? '' : c.reason);
  const w = verifyKeylessEnvelope(env, annotations, policy({ identity: 'x@y', issuer: ISS }));
  assert.ok(!w.ok && /identity is https:.*, not x@y/.test(w.reason));
});

test('policyTrust: the policy CA and Rekor key verify without SCTs; a file without certificates is named', async () => {
  const { signature, annotations } = await sigstore.signLayer(payload, ID, ISS);
  const rekor = createPublicKey(sigstore.rekorPem);
  const trust = policyTrust(sigstore.caPem, 'ca.pem', [{ key: rekor, where: 'rekor.pub' }]);
  const p: KeylessPolicy = { trust, noSct: true, identity: ID, issuer: ISS };
  const v = verifyKeylessLayer(payload, annotations, signature, p);
  assert.ok(v.ok, v.ok ? '' : v.reason);
  const withSct = verifyKeylessLayer(payload, annotations, signature, { ...p, noSct: false });
  assert.ok(!withSct.ok, 'without noSct, the SCT of an unknown CT log fails');
  assert.throws(() => policyTrust('not a pem', 'ca.pem', []), /ca\.pem holds no PEM certificate/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  assert.throws(() => policyTrust(sigstore.caPem, 'ca.pem', [{ key: rsa, where: 'r.pub' }]), /r\.pub: .*ECDSA/);
});
