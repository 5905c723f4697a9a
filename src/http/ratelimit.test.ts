import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { assertError, makeImage, pushImage } from '../test/testkit.js';
import { memoryApp, type MemoryServer } from '../test/memory-app.js';
import { basic } from '../test/helpers.js';
import { tempDir } from '../test/tempdirs.js';

const dir = tempDir('kura-rl-');
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('a', 4)}\nbob:${bcrypt.hashSync('b', 4)}\n`);

let open: MemoryServer;
let authed: MemoryServer;
before(async () => {
  open = await memoryApp({ rateLimits: [{ action: 'pull', limit: 5, window: '1m' }] });
  authed = await memoryApp({
    auth: { htpasswd },
    rateLimits: [
      { action: 'pull', limit: 3, window: '1m' },
      { action: 'request', limit: 1000, window: '1m' },
      { action: 'delete', limit: 1, window: '1m', per: 'address' },
    ],
  });
});
after(async () => {
  await open.close();
  await authed.close();
});

test(
  'a burst of pulls: Docker Hub headers count down, then 429 with Retry-After; HEADs do not count but report the ' +
    'limit',
  async () => {
    const img = makeImage();
    assert.equal((await pushImage(open, 'rl/app', img, 'v1')).status, 201);
    const accept = { accept: img.manifest.mediaType };
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const head = await open.req('HEAD', '/v2/rl/app/manifests/v1', { headers: accept });
      assert.equal(head.status, 200);
      // A HEAD reports what is left without using any of it (`kura ratelimit` asks with a HEAD).
      assert.equal(head.headers['ratelimit-limit'], '5;w=60');
      assert.equal(head.headers['ratelimit-remaining'], `${5 - i};w=60`, 'a HEAD is not a pull');
      const r = await open.req('GET', '/v2/rl/app/manifests/v1', { headers: accept });
      assert.equal(r.status, 200);
      assert.equal(r.headers['ratelimit-limit'], '5;w=60');
      remaining.push(String(r.headers['ratelimit-remaining']));
    }
    assert.deepEqual(remaining, ['4;w=60', '3;w=60', '2;w=60', '1;w=60', '0;w=60']);
    const over = await open.req('GET', '/v2/rl/app/manifests/v1', { headers: accept });
    assertError(over, 429, 'TOOMANYREQUESTS');
    const retry = Number(over.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    const headOver = await open.req('HEAD', '/v2/rl/app/manifests/v1', { headers: accept });
    assert.equal(headOver.status, 200, 'HEADs still answer');
    assert.equal(headOver.headers['ratelimit-remaining'], '0;w=60');
    assert.equal(
      (await open.req('GET', `/v2/rl/app/blobs/${img.config.digest}`)).status,
      200,
      'blob GETs are not pulls',
    );
  },
);

test('limits are per user when authenticated', async () => {
  const img = makeImage();
  const a = basic('alice', 'a');
  const b = basic('bob', 'b');
  for (const c of [img.config, ...img.layers])
    await authed.req('POST', `/v2/u/app/blobs/uploads/?digest=${c.digest}`, {
      body: c.bytes,
      headers: { authorization: a },
    });
  assert.equal(
    (
      await authed.req('PUT', '/v2/u/app/manifests/v1', {
        body: img.manifest.bytes,
        headers: { authorization: a, 'content-type': img.manifest.mediaType },
      })
    ).status,
    201,
  );
  const pull = (auth: string) =>
    authed.req('GET', '/v2/u/app/manifests/v1', { headers: { authorization: auth, accept: img.manifest.mediaType } });
  for (let i = 0; i < 3; i++) assert.equal((await pull(a)).status, 200);
  assertError(await pull(a), 429, 'TOOMANYREQUESTS');
  const r = await pull(b);
  assert.equal(r.status, 200, 'bob has his own budget');
  assert.equal(r.headers['ratelimit-remaining'], '2;w=60');
  // A per-address limit is shared by everyone behind one address, whoever they sign in as.
  assert.equal((await authed.req('DELETE', '/v2/u/app/manifests/nope', { headers: { authorization: a } })).status, 404);
  assertError(
    await authed.req('DELETE', '/v2/u/app/manifests/nope', { headers: { authorization: b } }),
    429,
    'TOOMANYREQUESTS',
  );
});
