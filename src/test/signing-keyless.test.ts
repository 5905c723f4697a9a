/**
 * `kura verify --certificate-identity ... --trusted-root FILE` against kura serve: keyless signatures made by a private
 * sigstore (Fulcio + CT log + Rekor, @sigstore/mock) and pushed with plain HTTP, in both of cosign's places.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { fakeSigstore, type FakeSigstore } from './fake-sigstore.js';
import { startKura, type KuraProcess } from './kura-process.js';
import { tempDir } from './tempdirs.js';
import { kuraFailsRunner, kuraRunner } from './helpers.js';

const dir = tempDir('kura-keyless-cli-');
const kura = kuraRunner({ cwd: dir });
const kuraFails = kuraFailsRunner({ cwd: dir });
const ID = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1';
const ISS = 'https://token.actions.githubusercontent.com';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let server: KuraProcess;
let sigstore: FakeSigstore;
let root: string;
let otherRoot: string;
before(async () => {
  server = await startKura();
  sigstore = await fakeSigstore();
  root = join(dir, 'trusted_root.json');
  otherRoot = join(dir, 'other_root.json');
  writeFileSync(root, JSON.stringify(sigstore.trustedRoot));
  writeFileSync(otherRoot, JSON.stringify((await fakeSigstore()).trustedRoot));
});
after(async () => {
  await server?.stop();
});

/** Pushes a blob and returns its descriptor fields (plain distribution-spec HTTP, as cosign would). */
async function pushBlob(repo: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const start = await fetch(`http://${server.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const loc = new URL(start.headers.get('location')!, `http://${server.host}`);
  loc.searchParams.set('digest', sha(data));
  const put = await fetch(loc, {
    method: 'PUT',
    body: new Uint8Array(data),
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(put.status, 201);
  return { digest: sha(data), size: data.length };
}
async function pushManifest(repo: string, ref: string, m: object): Promise<void> {
  const res = await fetch(`http://${server.host}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    body: JSON.stringify(m),
    headers: { 'content-type': OCI },
  });
  assert.equal(res.status, 201, await res.text());
}

/** Pushes an image and returns its reference and digest. */
async function image(repo: string, seed: number): Promise<{ ref: string; digest: string }> {
  const img = await randomImage({ seed });
  await new RegistryClient({ registry: server.host }).repository(repo).write('v1', img);
  return { ref: `${server.host}/${repo}:v1`, digest: img.descriptor.digest };
}

/** A keyless cosign `.sig` tag over `payload` (the signature made over `signedPayload`, to tamper). */
async function pushKeylessSig(repo: string, digest: string, tamper = false, id = ID): Promise<void> {
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': `${server.host}/${repo}` },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  const { annotations } = await sigstore.signLayer(payload, id, ISS);
  const stored = tamper ? Buffer.from(payload.toString().replace('"optional":null', '"optional":{"x":"y"}')) : payload;
  const layer = await pushBlob(repo, stored);
  const config = await pushBlob(repo, Buffer.from('{}'));
  await pushManifest(repo, `sha256-${digest.slice(7)}.sig`, {
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...layer, annotations }],
  });
}

/** A keyless sigstore bundle v0.3 referrer (cosign v3) with an in-toto statement of `predicateType`. */
async function pushKeylessBundle(repo: string, digest: string, predicateType: string): Promise<void> {
  const stmt = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: `${server.host}/${repo}`, digest: { sha256: digest.slice(7) } }],
      predicateType,
      predicate: {},
    }),
  );
  const bundle = Buffer.from(JSON.stringify(await sigstore.dsseBundle(stmt, ID, ISS)));
  const layer = await pushBlob(repo, bundle);
  const empty = await pushBlob(repo, Buffer.from('{}'));
  const subject = await fetch(`http://${server.host}/v2/${repo}/manifests/${digest}`, { headers: { accept: OCI } });
  const m = {
    schemaVersion: 2,
    mediaType: OCI,
    artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
    layers: [{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', ...layer }],
    subject: { mediaType: OCI, digest, size: Number(subject.headers.get('content-length')) },
  };
  await pushManifest(repo, sha(Buffer.from(JSON.stringify(m))), m);
}

const keyless = (id = ID, iss = ISS, r = root) => [
  '--trusted-root',
  r,
  '--certificate-identity',
  id,
  '--certificate-oidc-issuer',
  iss,
];

test('verify: a keyless .sig signature verifies offline, by exact identity and by regexp', async () => {
  const img = await image('keyless/app', 31);
  await pushKeylessSig('keyless/app', img.digest);
  const out = await kura('verify', ...keyless(), '--json', img.ref);
  const p = JSON.parse(out.stdout) as { critical: { image: { 'docker-manifest-digest': string } } };
  assert.equal(p.critical.image['docker-manifest-digest'], img.digest);
  await kura(
    'verify',
    '--trusted-root',
    root,
    '--certificate-identity-regexp',
    '^https://github\\.com/acme/',
    '--certificate-oidc-issuer-regexp',
    'githubusercontent\\.com$',
    img.ref,
  );
});

test('verify: wrong identity, wrong issuer, another trusted root, tampered payload: exit 1, one line', async () => {
  const img = await image('keyless/app', 31);
  const one = async (args: string[], why: RegExp, ref = img.ref) => {
    const r = await kuraFails('verify', ...args, ref);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^kura: error: no valid signature of [^\n]*\n$/);
    assert.match(r.stderr, why);
  };
  await one(keyless('mallory@example.com'), /certificate identity is https:.*, not mallory@example\.com/);
  await one(keyless(ID, 'https://accounts.google.com'), /OIDC issuer is https:\/\/token.*, not https:\/\/accounts/);
  await one(keyless(ID, ISS, otherRoot), /keyless verification failed/);
  const bad = await image('keyless/tampered', 32);
  await pushKeylessSig('keyless/tampered', bad.digest, true);
  await one(keyless(), /keyless verification failed/, bad.ref);
});

test('verify and verify-attestation: keyless sigstore bundle v0.3 referrers (cosign v3)', async () => {
  const img = await image('keyless/v3', 33);
  await pushKeylessBundle('keyless/v3', img.digest, 'https://sigstore.dev/cosign/sign/v1');
  await pushKeylessBundle('keyless/v3', img.digest, 'https://cyclonedx.org/bom');
  const out = await kura('verify', ...keyless(), img.ref);
  assert.match(out.stdout, /^verified signature of sha256:\S+ \(referrer sha256:\S+\)/);
  const att = await kura('verify-attestation', ...keyless(), '--type', 'cyclonedx', '--json', img.ref);
  assert.equal((JSON.parse(att.stdout) as { predicateType: string }).predicateType, 'https://cyclonedx.org/bom');
  const wrong = await kuraFails('verify', ...keyless('someone@else'), img.ref);
  assert.match(wrong.stderr, /certificate identity is .*, not someone@else/);
});

test('keyless flags: incomplete or mixed with --key are one usage line', async () => {
  const img = await image('keyless/app', 31);
  const noRoot = await kuraFails('verify', '--certificate-identity', ID, '--certificate-oidc-issuer', ISS, img.ref);
  assert.match(noRoot.stderr, /^kura: error: keyless verification needs --trusted-root FILE[^\n]*\n$/);
  const noIssuer = await kuraFails('verify', '--trusted-root', root, '--certificate-identity', ID, img.ref);
  assert.match(noIssuer.stderr, /^kura: error: keyless verification needs --certificate-oidc-issuer[^\n]*\n$/);
  const both = await kuraFails('verify', '--key', root, ...keyless(), img.ref);
  assert.match(both.stderr, /^kura: error: give either --key or the keyless flags/);
  writeFileSync(join(dir, 'junk.json'), '{}');
  const junk = await kuraFails('verify', ...keyless(ID, ISS, join(dir, 'junk.json')), img.ref);
  assert.match(junk.stderr, /^kura: error: .*junk\.json is not a sigstore trusted root[^\n]*\n$/);
});

const EMAIL = 'release@acme.example';
/** A policy.json whose docker scope holds one sigstoreSigned requirement with `fulcio` (containers-policy.json(5)). */
function fulcioPolicy(
  name: string,
  over: { email?: string; issuer?: string; ca?: string; rekor?: string } = {},
): string {
  const file = join(dir, `${name}.json`);
  const caPath = join(dir, `${name}-ca.pem`);
  writeFileSync(caPath, over.ca ?? sigstore.caPem);
  const req = {
    type: 'sigstoreSigned',
    fulcio: { caPath, oidcIssuer: over.issuer ?? ISS, subjectEmail: over.email ?? EMAIL },
    rekorPublicKeyData: Buffer.from(over.rekor ?? sigstore.rekorPem).toString('base64'),
    signedIdentity: { type: 'matchRepository' },
  };
  writeFileSync(
    file,
    JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [server.host]: [req] } } }),
  );
  return file;
}

test('policy.json fulcio: a matching keyless signature passes; a wrong email, issuer, CA, Rekor key fail', async () => {
  const img = await image('keyless/policy', 41);
  await pushKeylessSig('keyless/policy', img.digest, false, EMAIL);
  const ok = await kura('verify', '--policy', fulcioPolicy('good'), img.ref);
  assert.match(ok.stdout, /: signed as the policy requires\n$/);
  const refused = async (file: string, why: RegExp) => {
    const r = await kuraFails('verify', '--policy', file, img.ref);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^kura: error: [^\n]* has no valid sigstore signature by the policy's Fulcio identity [^\n]*\n$/,
    );
    assert.match(r.stderr, why);
  };
  await refused(
    fulcioPolicy('email', { email: 'mallory@acme.example' }),
    /identity is release@acme\.example, not mallory/,
  );
  await refused(
    fulcioPolicy('issuer', { issuer: 'https://accounts.google.com' }),
    /OIDC issuer is https:\/\/token.*, not https:\/\/accounts/,
  );
  const other = await fakeSigstore();
  await refused(fulcioPolicy('ca', { ca: other.caPem }), /keyless verification failed/);
  await refused(fulcioPolicy('rekor', { rekor: other.rekorPem }), /keyless verification failed/);
  // copy --policy decides the same way, before anything is copied.
  const dst = `oci:${join(dir, 'copied')}:v1`;
  await kura('copy', '-q', '--policy', fulcioPolicy('good'), `docker://${img.ref}`, dst);
  const no = await kuraFails(
    'copy',
    '--policy',
    fulcioPolicy('email', { email: 'mallory@acme.example' }),
    `docker://${img.ref}`,
    dst,
  );
  assert.match(no.stderr, /^kura: error: .*not mallory@acme\.example; not copied\n$/);
});

test('policy.json fulcio: incomplete requirements are refused when the policy is read', async () => {
  const img = await image('keyless/policy', 41);
  const bad = async (req: object, why: RegExp) => {
    const file = join(dir, 'bad-policy.json');
    writeFileSync(file, JSON.stringify({ default: [{ type: 'sigstoreSigned', ...req }] }));
    const r = await kuraFails('verify', '--policy', file, img.ref);
    assert.match(r.stderr, /^kura: error: [^\n]*\n$/);
    assert.match(r.stderr, why);
  };
  const fulcio = { caData: Buffer.from(sigstore.caPem).toString('base64'), oidcIssuer: ISS, subjectEmail: EMAIL };
  const rekorPublicKeyData = Buffer.from(sigstore.rekorPem).toString('base64');
  await bad({ fulcio }, /needs exactly one of rekorPublicKeyPath/);
  await bad({ fulcio: { ...fulcio, subjectEmail: undefined }, rekorPublicKeyData }, /fulcio\.subjectEmail/);
  await bad(
    { fulcio: { ...fulcio, caPath: '/x' }, rekorPublicKeyData },
    /exactly one of fulcio\.caPath and fulcio\.caData/,
  );
  await bad(
    { fulcio, keyPath: '/k.pub', rekorPublicKeyData },
    /exactly one of keyPath, keyPaths, keyData, keyDatas and fulcio/,
  );
});

/** A keyless cosign `.att` tag (cosign v2 attest): one DSSE layer, made by the fake sigstore. */
async function pushKeylessAtt(repo: string, digest: string, predicateType: string): Promise<void> {
  const stmt = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType,
      subject: [{ name: `${server.host}/${repo}`, digest: { sha256: digest.slice(7) } }],
      predicate: { spdxVersion: 'SPDX-2.3' },
    }),
  );
  const { envelope, annotations } = await sigstore.attLayer(stmt, ID, ISS, predicateType);
  const layer = await pushBlob(repo, envelope);
  const config = await pushBlob(repo, Buffer.from('{}'));
  await pushManifest(repo, `sha256-${digest.slice(7)}.att`, {
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.dsse.envelope.v1+json', ...layer, annotations }],
  });
}

test('verify-attestation: a keyless .att DSSE envelope verifies; a wrong identity is refused', async () => {
  const img = await image('keyless/att', 43);
  await pushKeylessAtt('keyless/att', img.digest, 'https://spdx.dev/Document');
  const out = await kura('verify-attestation', ...keyless(), '--type', 'spdx', '--json', img.ref);
  const stmt = JSON.parse(out.stdout) as { predicateType: string; subject: { digest: { sha256: string } }[] };
  assert.equal(stmt.predicateType, 'https://spdx.dev/Document');
  assert.equal(`sha256:${stmt.subject[0]!.digest.sha256}`, img.digest);
  const line = await kura('verify-attestation', ...keyless(), img.ref);
  assert.match(line.stdout, /^verified attestation of sha256:\S+ \(sha256-\S+\.att\) https:\/\/spdx\.dev\/Document\n$/);
  const wrong = await kuraFails('verify-attestation', ...keyless('mallory@example.com'), '--type', 'spdx', img.ref);
  assert.equal(wrong.code, 1);
  assert.match(
    wrong.stderr,
    /^kura: error: no valid [^\n]*certificate identity is https:.*, not mallory@example\.com\n$/,
  );
  const otherRoot2 = await kuraFails('verify-attestation', ...keyless(ID, ISS, otherRoot), img.ref);
  assert.match(otherRoot2.stderr, /keyless verification failed/);
});
