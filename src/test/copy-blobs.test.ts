import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { startProxy, type Proxy } from './http-proxy.js';
import { startKura, type KuraProcess } from './kura-process.js';
import { kuraRunner } from './helpers.js';

const kura = kuraRunner({ env: { ...process.env, CI: '1' } });

let k: KuraProcess;
let proxy: Proxy;
before(async () => {
  k = await startKura();
  proxy = await startProxy(k.url);
});
after(async () => {
  await proxy.close();
  await k.stop();
});

const digestOf = (url: string) => /(sha256:[0-9a-f]{64}|sha256%3A[0-9a-f]{64})/.exec(url)?.[1]?.replace('%3A', ':');

test('copy --all-tags with four tags on one image uploads each blob once and reports it once', async () => {
  const img = await randomImage({ seed: 21, layers: 3, layerSize: 300_000 });
  const src = new RegistryClient({ registry: k.host }).repository('dedupe/src');
  for (const t of ['a', 'b', 'c', 'd']) await src.write(t, img);
  proxy.seen.length = 0;
  const { stdout, stderr } = await kura(
    'copy',
    '--all-tags',
    '-j',
    '4',
    `docker://${k.host}/dedupe/src`,
    `docker://${proxy.host}/dedupe/dst`,
  );
  assert.deepEqual(
    stdout.trim().split('\n').sort(),
    ['a', 'b', 'c', 'd'].map((t) => `${t} ${img.descriptor.digest}`),
  );
  const blobRequests = new Map<string, string[]>();
  for (const s of proxy.seen) {
    if (!s.url.includes('/blobs/')) continue;
    const d = digestOf(s.url);
    if (d) blobRequests.set(d, [...(blobRequests.get(d) ?? []), `${s.method} ${s.url.replace(/\?.*/, '')}`]);
  }
  assert.equal(blobRequests.size, 4, 'config and three layers');
  for (const [d, reqs] of blobRequests) {
    // One HEAD (absent), then one mount (same registry) or one upload: never once per tag.
    assert.ok(reqs.length <= 2, `${d}: ${reqs.join(', ')}`);
  }
  const lines = stderr
    .trim()
    .split('\n')
    .filter((l) => /: (Done|Mounted|Already exists)/.test(l));
  assert.equal(lines.length, 4, stderr);
});

test(
  'index create with sources in other repositories of the same registry mounts every blob, uploads ' + 'none',
  async () => {
    const amd = await randomImage({ seed: 22, layers: 2, platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await randomImage({ seed: 23, layers: 2, platform: { os: 'linux', architecture: 'arm64' } });
    const client = new RegistryClient({ registry: k.host });
    await client.repository('team/app-amd64').write('v1', amd);
    await client.repository('team/app-arm64').write('v1', arm);
    proxy.seen.length = 0;
    const { stdout } = await kura(
      'index',
      'create',
      '-q',
      '-t',
      `${proxy.host}/team/app:v1`,
      `${proxy.host}/team/app-amd64:v1`,
      `${proxy.host}/team/app-arm64:v1`,
    );
    assert.match(stdout, /^sha256:[0-9a-f]{64}\n$/);
    // The first POST is the push-rights probe (started and cancelled); then one mount per blob.
    const posts = proxy.seen
      .filter((s) => s.method === 'POST' && s.url.startsWith('/v2/team/app/blobs/uploads/'))
      .slice(1);
    assert.equal(posts.length, 6, 'two configs and four layers');
    for (const p of posts) assert.match(p.url, /[?&]mount=sha256%3A[0-9a-f]{64}&from=team%2Fapp-(amd64|arm64)/);
    assert.equal(
      proxy.seen.filter((s) => (s.method === 'PUT' || s.method === 'PATCH') && s.url.includes('/blobs/uploads/'))
        .length,
      0,
      'no blob uploaded',
    );
  },
);
