import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { digestOf } from '../oci/digest.js';
import { assertError, randomBlob } from '../test/testkit.js';
import { memoryApp, type MemoryServer } from '../test/memory-app.js';

let ts: MemoryServer;
before(async () => {
  ts = await memoryApp({
    quotas: [
      { namespaces: ['team'], limit: 250_000 },
      { repositories: ['solo/*'], limit: 1000 },
    ],
  });
});
after(async () => {
  await ts.close();
});

const post = (repo: string, data: Buffer) =>
  ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(data)}`, { body: data });

test(
  'namespace quota: shared blobs count once, the blob that would exceed is refused with DENIED and not ' + 'stored',
  async () => {
    const shared = randomBlob(100_000);
    const second = randomBlob(100_000);
    const third = randomBlob(100_000);
    assert.equal((await post('team/a', shared)).status, 201);
    assert.equal(
      (await post('team/b', shared)).status,
      201,
      'the same blob in another repository of the namespace is free',
    );
    assert.equal((await post('team/b', second)).status, 201);
    const refused = await post('team/c', third);
    assertError(refused, 403, 'DENIED');
    assert.match(
      refused.json().errors[0].message,
      /storage quota of namespace team exceeded: 200000 of 250000 bytes used/,
    );
    assert.equal((await ts.req('HEAD', `/v2/team/c/blobs/${digestOf(third)}`)).status, 404);
    // A chunked upload is refused at its close the same way, and its session is gone.
    const start = await ts.req('POST', '/v2/team/c/blobs/uploads/');
    const loc = start.headers.location as string;
    assert.equal((await ts.req('PATCH', loc, { body: third })).status, 202);
    assertError(await ts.req('PUT', `${loc}?digest=${digestOf(third)}`), 403, 'DENIED');
    assertError(await ts.req('GET', loc), 404, 'BLOB_UPLOAD_UNKNOWN');
    // Another namespace is not limited.
    assert.equal((await post('other/c', third)).status, 201);

    const usage = (await ts.req('GET', '/admin/v1/usage')).json();
    const team = usage.namespaces.find((n: { name: string }) => n.name === 'team');
    assert.deepEqual(team, { name: 'team', blobs: 2, bytes: 200_000, sumOfRepositories: 300_000 });
    assert.deepEqual(
      usage.repositories.filter((r: { name: string }) => r.name.startsWith('team/')),
      [
        { name: 'team/a', blobs: 1, bytes: 100_000 },
        { name: 'team/b', blobs: 2, bytes: 200_000 },
      ],
    );

    // Freeing space (unlinking from every repository of the namespace) lets the blob in.
    assert.equal((await ts.req('DELETE', `/v2/team/b/blobs/${digestOf(second)}`)).status, 202);
    assert.equal((await post('team/c', third)).status, 201);
  },
);

test('per-repository quota applies to each matching repository separately, manifests included', async () => {
  const config = Buffer.from('{}');
  assert.equal((await post('solo/x', config)).status, 201);
  assert.equal((await post('solo/y', randomBlob(900))).status, 201);
  assertError(await post('solo/y', randomBlob(200)), 403, 'DENIED');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: 2 },
      layers: [],
      annotations: { pad: 'x'.repeat(1200) },
    }),
  );
  const put = await ts.req('PUT', '/v2/solo/x/manifests/v1', {
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  assertError(put, 403, 'DENIED');
});
