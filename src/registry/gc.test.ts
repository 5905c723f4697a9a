import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { digestOf, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MemoryMetadataStore } from '../metadata/memory/index.js';
import { MemoryBlobStore } from '../storage/memory.js';
import { Registry } from './registry.js';

const GRACE = 40;

/** One fake clock for the registry and its metadata store: `pass(ms)` moves time on, nothing sleeps. */
function setup() {
  let time = 1_700_000_000_000;
  const now = () => time;
  const pass = (ms: number) => {
    time += ms;
  };
  const blobs = new MemoryBlobStore();
  const meta = new MemoryMetadataStore({ now });
  const reg = new Registry(blobs, meta, {
    now,
    deleteEnabled: true,
    manifestMaxBytes: 1 << 20,
    blobMaxBytes: 0,
    tagsPerPush: 10,
    pageMax: 1000,
    cacheLookups: true,
    gcGraceMs: GRACE,
  });
  return { blobs, meta, reg, now, pass };
}

/** Sizes of what upload() stored, so manifests declare them right. */
const sizes = new Map<Digest, number>();

async function upload(reg: Registry, repo: string, data: Buffer): Promise<Digest> {
  const d = digestOf(data);
  sizes.set(d, data.length);
  await reg.monolithicUpload(repo, d, Readable.from([data]));
  return d;
}

function imageManifest(config: Digest, layers: Digest[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: sizes.get(config) ?? 2 },
      layers: layers.map((digest) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest,
        size: sizes.get(digest) ?? 1,
      })),
    }),
  );
}

test('GC keeps referenced and recent blobs, deletes unreferenced ones after the grace period', async () => {
  const { reg, blobs, pass } = setup();
  const config = await upload(reg, 'r', Buffer.from('{}'));
  const layer = await upload(reg, 'r', randomBytes(100));
  const orphan = await upload(reg, 'r', randomBytes(100));
  await reg.putManifest('r', 'v1', undefined, imageManifest(config, [layer]));
  // Within the grace period nothing goes.
  assert.deepEqual((await reg.collectGarbage()).blobs, []);
  pass(GRACE + 10);
  const dry = await reg.collectGarbage({ dryRun: true });
  assert.deepEqual(
    dry.blobs.map((b) => b.digest),
    [orphan],
  );
  assert.notEqual(await blobs.stat(orphan), null, 'a dry run deletes nothing');
  const r = await reg.collectGarbage();
  assert.deepEqual(r.blobs, [{ digest: orphan, size: 100 }]);
  assert.equal(r.swept, 1);
  assert.equal(await blobs.stat(orphan), null);
  await assert.rejects(reg.statBlob('r', orphan), (e: unknown) => e instanceof OciError && e.code === 'BLOB_UNKNOWN');
  for (const d of [config, layer]) assert.notEqual(await blobs.stat(d), null);
  assert.equal((await reg.getManifest('r', 'v1')).record.size > 0, true);
});

test('deleting a manifest frees its blobs and its own bytes for the next collection', async () => {
  const { reg, blobs, pass } = setup();
  const config = await upload(reg, 'r', Buffer.from('{}'));
  const layer = await upload(reg, 'r', randomBytes(50));
  const m = await reg.putManifest('r', 'v1', undefined, imageManifest(config, [layer]));
  await reg.deleteManifest('r', m.digest);
  pass(GRACE + 10);
  const r = await reg.collectGarbage();
  assert.deepEqual(new Set(r.blobs.map((b) => b.digest)), new Set([config, layer, m.digest]));
  for (const d of [config, layer, m.digest]) assert.equal(await blobs.stat(d), null);
});

test('a HEAD within the grace period protects a blob a client is about to reference', async () => {
  const { reg, pass } = setup();
  const config = await upload(reg, 'r', Buffer.from('{}'));
  const layer = await upload(reg, 'r', randomBytes(10));
  pass(GRACE + 10);
  await reg.statBlob('r', layer);
  await reg.statBlob('r', config);
  assert.deepEqual((await reg.collectGarbage()).blobs, []);
  await reg.putManifest('r', 'v1', undefined, imageManifest(config, [layer]));
});

test('a manifest PUT after the mark fails with MANIFEST_BLOB_UNKNOWN; uploading again revives the blob', async () => {
  const { reg, blobs, pass } = setup();
  const configBytes = Buffer.from('{}');
  const layerBytes = randomBytes(64);
  const config = await upload(reg, 'r', configBytes);
  const layer = await upload(reg, 'r', layerBytes);
  pass(GRACE + 10);
  await reg.collectGarbage();
  await assert.rejects(
    reg.putManifest('r', 'v1', undefined, imageManifest(config, [layer])),
    (e: unknown) => e instanceof OciError && e.code === 'MANIFEST_BLOB_UNKNOWN' && e.more.length === 1,
  );
  await upload(reg, 'r', configBytes);
  await upload(reg, 'r', layerBytes);
  await reg.putManifest('r', 'v1', undefined, imageManifest(config, [layer]));
  assert.deepEqual(await blobs.stat(layer), 64);
});

test('a collection that was interrupted after its mark is finished by the next one', async () => {
  const { reg, meta, blobs, now, pass } = setup();
  const orphan = await upload(reg, 'r', randomBytes(20));
  pass(GRACE + 10);
  // The mark of a GC killed before its sweep.
  assert.deepEqual(await meta.gc.mark([orphan], now(), now() - GRACE), [orphan]);
  assert.notEqual(await blobs.stat(orphan), null);
  const r = await reg.collectGarbage();
  assert.equal(r.swept, 1);
  assert.equal(await blobs.stat(orphan), null);
  assert.deepEqual(await meta.gc.listDeleting(), []);
});

test('an upload racing with a sweep of the same digest ends with the blob stored and live', async () => {
  const { reg, meta, blobs, now, pass } = setup();
  const bytes = randomBytes(30);
  const d = await upload(reg, 'r', bytes);
  pass(GRACE + 10);
  await meta.gc.mark([d], now(), now() - GRACE);
  // Both start together; the digest lock orders them one way or the other.
  const [, again] = await Promise.all([reg.collectGarbage(), upload(reg, 'r2', bytes)]);
  assert.equal(again, d);
  assert.equal(await meta.gc.state(d), 'live');
  assert.equal(await blobs.stat(d), 30);
  assert.equal(await reg.statBlob('r2', d), 30);
});
