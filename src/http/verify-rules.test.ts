// The pull policy's parts in process: who it holds, its verdict cache, what counts as an attachment, key loading.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { MediaTypes } from '../oci/mediatypes.js';
import { useMemoryApp } from '../test/memory-app.js';
import { assertError, makeImage, type Requester } from '../test/testkit.js';
import { pullPolicy } from './app.js';
import { isAttachment, loadVerifyRules } from './verify-rules.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-verify-rules-'));
const pub = join(dir, 'cosign.pub');
const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
writeFileSync(pub, pair.publicKey.export({ format: 'pem', type: 'spki' }));
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, ['carol', 'bob'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}`).join('\n') + '\n');
const basic = (u: string) => 'Basic ' + Buffer.from(`${u}:${u}-pw`).toString('base64');

const app = useMemoryApp({
  auth: {
    htpasswd,
    rules: [
      { users: ['carol'], repositories: ['**'], actions: ['pull', 'push', 'delete'] },
      { users: ['bob'], repositories: ['**'], actions: ['pull'] },
    ],
  },
  verify: { rules: [{ repositories: ['prod/**'], keys: [pub] }] },
});

async function push(ts: Requester, repo: string, tag: string, img = makeImage()): Promise<string> {
  const authorization = basic('carol');
  for (const c of [img.config, ...img.layers]) {
    const r = await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${c.digest}`, {
      body: c.bytes,
      headers: { authorization },
    });
    assert.equal(r.status, 201);
  }
  const r = await ts.req('PUT', `/v2/${repo}/manifests/${tag}`, {
    body: img.manifest.bytes,
    headers: { authorization, 'content-type': img.manifest.mediaType },
  });
  assert.equal(r.status, 201);
  return img.manifest.digest;
}
const get = (repo: string, ref: string, user: string) =>
  app.req('GET', `/v2/${repo}/manifests/${ref}`, { headers: { authorization: basic(user) } });

test('with authentication on, a caller who may push is not held to the policy (signing reads it)', async () => {
  await push(app, 'prod/app', 'v1');
  assertError(await get('prod/app', 'v1', 'bob'), 403, 'DENIED');
  assert.equal((await get('prod/app', 'v1', 'carol')).status, 200);
});

test('verdicts are cached by digest until a manifest or tag changes', async () => {
  const policy = pullPolicy(app.app)!;
  await push(app, 'prod/cached', 'v1');
  const before = policy.verifications;
  for (let i = 0; i < 3; i++) assertError(await get('prod/cached', 'v1', 'bob'), 403, 'DENIED');
  assert.equal(policy.verifications, before + 1, 'three GETs, one verification');
  await push(app, 'prod/elsewhere', 'v1');
  assertError(await get('prod/cached', 'v1', 'bob'), 403, 'DENIED');
  assert.equal(policy.verifications, before + 2, 'a push made the verdict stale');
});

test('a signature that cannot be read refuses with the reason, and the refusal is not cached', async () => {
  const digest = await push(app, 'prod/broken', 'v1');
  const sig = makeImage({ layerMediaType: 'application/vnd.dev.cosign.simplesigning.v1+json' });
  await push(app, 'prod/broken', `sha256-${digest.slice(7)}.sig`, sig);
  const del = await app.req('DELETE', `/v2/prod/broken/blobs/${sig.layers[0]!.digest}`, {
    headers: { authorization: basic('carol') },
  });
  assert.equal(del.status, 202);
  const policy = pullPolicy(app.app)!;
  const before = policy.verifications;
  const r = await get('prod/broken', 'v1', 'bob');
  assertError(r, 403, 'DENIED');
  assert.match(r.text(), /has signatures that could not be read \(.*\) \(verify rule prod\/\*\*\)/);
  assertError(await get('prod/broken', 'v1', 'bob'), 403, 'DENIED');
  assert.equal(policy.verifications, before + 2);
});

test('attachments (no filesystem layer; referrers tag-schema indexes) are exempt; runnable images are not', () => {
  const manifest = (layers: string[], extra: object = {}) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OciManifest,
        config: { mediaType: MediaTypes.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
        layers: layers.map((mediaType, i) => ({ mediaType, digest: `sha256:${String(i).repeat(64)}`, size: 1 })),
        ...extra,
      }),
    );
  const sig = manifest(['application/vnd.dev.cosign.simplesigning.v1+json']);
  assert.equal(isAttachment(sig, MediaTypes.OciManifest), true);
  assert.equal(isAttachment(manifest(['application/vnd.dsse.envelope.v1+json']), MediaTypes.OciManifest), true);
  const subject = { subject: { mediaType: MediaTypes.OciManifest, digest: `sha256:${'b'.repeat(64)}`, size: 3 } };
  // A subject does not make a runnable image an attachment: it would be a way round the policy.
  assert.equal(isAttachment(manifest([MediaTypes.OciLayerGzip], subject), MediaTypes.OciManifest), false);
  assert.equal(isAttachment(manifest([MediaTypes.DockerLayerGzip]), MediaTypes.OciManifest), false);
  const index = (entries: object[]) =>
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: entries }));
  const entry = { mediaType: MediaTypes.OciManifest, digest: `sha256:${'c'.repeat(64)}`, size: 4 };
  assert.equal(isAttachment(index([{ ...entry, artifactType: 'application/spdx+json' }]), MediaTypes.OciIndex), true);
  assert.equal(isAttachment(index([entry]), MediaTypes.OciIndex), false);
  assert.equal(isAttachment(Buffer.from('not json'), MediaTypes.OciManifest), false);
});

test('key files are read at start: a private key or garbage is refused with the rule and file named', () => {
  const priv = join(dir, 'cosign.key');
  writeFileSync(
    priv,
    '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n',
  );
  assert.throws(
    () => loadVerifyRules([{ repositories: ['a/**'], keys: [priv], inheritFromIndex: false }]),
    /verify rule a\/\*\*: key .*cosign\.key is an encrypted private key; verify with its public key/,
  );
  const junk = join(dir, 'junk.pub');
  writeFileSync(junk, 'hello\n');
  assert.throws(
    () => loadVerifyRules([{ repositories: ['a/**'], keys: [junk], inheritFromIndex: false }]),
    /verify rule a\/\*\*: key .*junk\.pub holds no PEM block/,
  );
  assert.equal(
    loadVerifyRules([{ repositories: ['a/**'], keys: [pub], inheritFromIndex: false }])[0]!.loaded.length,
    1,
  );
});
