/** Stores by name: `kura serve` on the memory drivers keeps nothing on disk, and its contents go with the process. */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { MemoryBlobStore } from '../storage/memory.js';
import { MemoryMetadataStore } from '../metadata/memory/index.js';
import { assertStatus, makeImage, pushImage, startTestServer } from '../test/testkit.js';
import { openBlobStore, openMetadataStore } from './stores.js';

test('the memory drivers serve pushes and pulls, write no blob or database file, and forget on restart', async () => {
  const ts = await startTestServer({ storage: { driver: 'memory' }, metadata: { driver: 'memory' } });
  try {
    const img = makeImage();
    assertStatus(await pushImage(ts, 'mem/app', img, 'v1'), 201);
    assertStatus(await ts.req('GET', '/v2/mem/app/manifests/v1'), 200);
    assertStatus(await ts.req('GET', `/v2/mem/app/blobs/${img.layers[0]!.digest}`), 200);
    assert.deepEqual(await readdir(ts.dataDir), ['server.json'], 'only the running server note is written');
    await ts.restart();
    assertStatus(await ts.req('GET', '/v2/mem/app/manifests/v1'), 404);
  } finally {
    await ts.close();
  }
});

test('openBlobStore and openMetadataStore load the driver named, wrapped in the argument checks', async () => {
  const blobs = await openBlobStore('memory', '/nonexistent');
  assert.equal(blobs.store.name, new MemoryBlobStore().name);
  assert.equal(blobs.sweep, undefined);
  await assert.rejects(
    blobs.store.read(('sha256:' + '0'.repeat(64)) as never, { start: 5, end: 1 }),
    /invalid byte range/,
  );
  const meta = await openMetadataStore('memory', '/nonexistent');
  assert.ok(meta instanceof MemoryMetadataStore);
  await meta.close();
});
