import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, makeImage, pushBlob, pushImage, putManifest } from '../test/testkit.js';
import { memoryApp, type MemoryServer } from '../test/memory-app.js';

let ts: MemoryServer;
before(async () => {
  ts = await memoryApp({ immutability: [{ repositories: ['prod/**'], tags: ['v*', 'stable'] }] });
});
after(async () => {
  await ts.close();
});

test('overwriting or deleting an immutable tag is 403 DENIED; other tags and repositories are unaffected', async () => {
  const a = makeImage();
  const b = makeImage();
  assert.equal((await pushImage(ts, 'prod/api', a, 'v1.0.0')).status, 201);
  assert.equal((await pushImage(ts, 'prod/api', a, 'v1.0.0')).status, 201, 're-pushing the same image is fine');
  await pushBlob(ts, 'prod/api', b.config);
  for (const l of b.layers) await pushBlob(ts, 'prod/api', l);
  const moved = await putManifest(ts, 'prod/api', 'v1.0.0', b.manifest);
  assertError(moved, 403, 'DENIED');
  assert.match(moved.json().errors[0].message, /immutable/);
  assertError(await ts.req('DELETE', '/v2/prod/api/manifests/v1.0.0'), 403, 'DENIED');
  assertError(await ts.req('DELETE', `/v2/prod/api/manifests/${a.manifest.digest}`), 403, 'DENIED');
  const got = await ts.req('GET', '/v2/prod/api/manifests/v1.0.0', { headers: { accept: a.manifest.mediaType } });
  assert.equal(got.headers['docker-content-digest'], a.manifest.digest);
  // Not immutable: another tag in prod, and the same tag elsewhere.
  assert.equal((await pushImage(ts, 'prod/api', b, 'edge')).status, 201);
  assert.equal((await pushImage(ts, 'prod/api', a, 'edge')).status, 201);
  assert.equal((await pushImage(ts, 'dev/api', a, 'v1.0.0')).status, 201);
  assert.equal((await pushImage(ts, 'dev/api', b, 'v1.0.0')).status, 201);
});
