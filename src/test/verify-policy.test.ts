// The pull policy of `kura serve` (verify.rules) with a real server process, `kura sign`, `kura copy` and skopeo.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Artifact } from '../oci/artifact.js';
import { randomImage, randomIndex } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { hasTool, KURA_MAIN, startKura, type KuraProcess } from './kura-process.js';
import { kuraRunner } from './helpers.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kura-verify-policy-'));
const env = { ...process.env, CI: '1', KURA_PASSWORD: 'test-pass' };
const kura = kuraRunner({ env, cwd: dir });
const KEY = join(dir, 'cosign.key');
const PUB = join(dir, 'cosign.pub');
const OTHER_KEY = join(dir, 'other.key');
const CONFIG = join(dir, 'kura.yaml');

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

let server: KuraProcess;
before(async () => {
  await kura('key', 'generate');
  await kura('key', 'generate', '--output-key-prefix', 'other');
  writeFileSync(
    CONFIG,
    [
      'verify:',
      '  rules:',
      '    - repositories: ["prod/**"]',
      `      keys: ["${PUB}"]`,
      '      inheritFromIndex: true',
      '    - repositories: ["strict/**"]',
      `      keys: ["${PUB}"]`,
      '',
    ].join('\n'),
  );
  server = await startKura({ args: ['--config', CONFIG] });
});
after(async () => {
  await server?.stop();
});

async function get(repo: string, ref: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const res = await fetch(`${server.url}/v2/${repo}/manifests/${ref}`, { method, headers: { accept: ACCEPT } });
  return { status: res.status, body: await res.text() };
}
function deniedMessage(r: { status: number; body: string }): string {
  assert.equal(r.status, 403, r.body);
  const e = (JSON.parse(r.body) as { errors: { code: string; message: string }[] }).errors[0]!;
  assert.equal(e.code, 'DENIED');
  return e.message;
}
const push = (repo: string, tag: string, a: Artifact) =>
  new RegistryClient({ registry: server.host }).repository(repo).write(tag, a);

/** Pushes to an unprotected staging repository, signs there with `key` (if any), copies the graph to `to`. */
async function signedCopy(a: Artifact, key: string | null, to: string[], ...signArgs: string[]): Promise<void> {
  const staging = `staging/${to[0]!.replace(/[/:]/g, '-')}`;
  await push(staging, 'v1', a);
  if (key) await kura('sign', '--key', key, ...signArgs, `${server.host}/${staging}:v1`);
  for (const t of to) await kura('copy', '-q', `docker://${server.host}/${staging}:v1`, `docker://${server.host}/${t}`);
}

test('an unsigned image in a protected repository: GET and HEAD answer 403 DENIED naming reason and fix', async () => {
  const img = await randomImage({ seed: 101 });
  await push('prod/unsigned', 'v1', img);
  const d = img.descriptor.digest;
  for (const ref of ['v1', d]) {
    const msg = deniedMessage(await get('prod/unsigned', ref));
    assert.equal(
      msg,
      `prod/unsigned@${d} has no signature (verify rule prod/**): sign it with kura sign --key KEY ` +
        `prod/unsigned@${d}, or sign an index that lists it`,
    );
  }
  assert.equal((await get('prod/unsigned', 'v1', 'HEAD')).status, 403);
  // Blobs are not guarded (they are content-addressed and useless without a manifest); unknown tags stay 404.
  assert.equal((await get('prod/unsigned', 'nope')).status, 404);
  // Signed elsewhere and copied in with its signature: the refusal cached above gives way at once.
  await signedCopy(img, KEY, ['prod/unsigned:v1']);
  assert.equal((await get('prod/unsigned', 'v1')).status, 200);
});

test('signed by the trusted key: served, .sig tag fetchable; signature deleted, refused again', async () => {
  const img = await randomImage({ seed: 102 });
  await signedCopy(img, KEY, ['prod/app:v1']);
  const d = img.descriptor.digest;
  assert.equal((await get('prod/app', 'v1')).status, 200);
  assert.equal((await get('prod/app', d)).status, 200);
  assert.equal((await get('prod/app', 'v1', 'HEAD')).status, 200);
  const sigTag = `sha256-${d.slice(7)}.sig`;
  const sig = await fetch(`${server.url}/v2/prod/app/manifests/${sigTag}`, { headers: { accept: ACCEPT } });
  assert.equal(sig.status, 200);
  const sigDigest = sig.headers.get('docker-content-digest')!;
  assert.equal((await get('prod/app', sigDigest)).status, 200, 'the signature manifest by digest too');
  // The verdict is cached; deleting the signature must end it.
  const del = await fetch(`${server.url}/v2/prod/app/manifests/${sigDigest}`, { method: 'DELETE' });
  assert.equal(del.status, 202);
  const msg = deniedMessage(await get('prod/app', 'v1'));
  assert.match(msg, /has no signature \(verify rule prod\/\*\*\)/);
});

test('signed by another key: refused, and the message says why the signature failed', async () => {
  const img = await randomImage({ seed: 103 });
  await signedCopy(img, OTHER_KEY, ['prod/other:v1']);
  const msg = deniedMessage(await get('prod/other', 'v1'));
  assert.match(msg, /has no signature by a trusted key \(sha256-[0-9a-f]{64}\.sig: no key verifies the signature\)/);
});

test('a sigstore-bundle referrer signature (kura sign --referrers) is accepted too', async () => {
  const img = await randomImage({ seed: 104 });
  await signedCopy(img, KEY, ['prod/bundle:v1'], '--referrers');
  assert.equal((await get('prod/bundle', 'v1')).status, 200);
});

test('index children inherit the signature of a signed index with inheritFromIndex, and not without', async () => {
  const idx = await randomIndex({ seed: 105 });
  await signedCopy(idx, KEY, ['prod/multi:v1', 'strict/multi:v1']);
  const children = (JSON.parse(idx.manifest.toString()) as { manifests: { digest: string }[] }).manifests;
  assert.ok(children.length >= 2);
  for (const repo of ['prod/multi', 'strict/multi']) assert.equal((await get(repo, 'v1')).status, 200, repo);
  for (const c of children) {
    assert.equal((await get('prod/multi', c.digest)).status, 200);
    const msg = deniedMessage(await get('strict/multi', c.digest));
    assert.match(msg, /has no signature \(verify rule strict\/\*\*\): sign it with kura sign --key KEY strict\/multi@/);
  }
  // An unsigned index lends nothing to its children.
  const bare = await randomIndex({ seed: 106 });
  await push('prod/bare', 'v1', bare);
  const first = (JSON.parse(bare.manifest.toString()) as { manifests: { digest: string }[] }).manifests[0]!;
  deniedMessage(await get('prod/bare', 'v1'));
  deniedMessage(await get('prod/bare', first.digest));
});

test('repositories outside every rule are served unsigned', async () => {
  await push('dev/app', 'v1', await randomImage({ seed: 107 }));
  assert.equal((await get('dev/app', 'v1')).status, 200);
});

test('skopeo pulling an unsigned image from a protected repository fails with the DENIED message', async (t) => {
  if (!hasTool('skopeo')) return t.skip('skopeo is not installed');
  const img = await randomImage({ seed: 108 });
  await push('prod/skopeo', 'v1', img);
  const out = join(dir, 'skopeo-out');
  const res = await run('skopeo', [
    'copy',
    '--src-tls-verify=false',
    `docker://${server.host}/prod/skopeo:v1`,
    `oci:${out}:v1`,
  ]).then(
    () => assert.fail('skopeo copied an unsigned image'),
    (e: { stderr: string }) => e.stderr,
  );
  assert.match(res, /denied/i);
  assert.match(res, /has no signature \(verify rule prod\/\*\*\): sign it with kura sign --key KEY/);
});

test('a key file that cannot be read stops kura serve at start with one clear line', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'verify:\n  rules:\n    - repositories: ["x/**"]\n      keys: ["/nonexistent/cosign.pub"]\n');
  const res = await run(
    process.execPath,
    [KURA_MAIN, 'serve', '--listen', '127.0.0.1:0', '--data', join(dir, 'bad-data'), '--config', bad],
    { env, timeout: 15_000 },
  ).then(
    () => assert.fail('kura serve started'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^kura: error: verify rule x\/\*\*: cannot read key \/nonexistent\/cosign\.pub: .*ENOENT/m);
});
