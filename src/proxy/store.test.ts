/**
 * Cached content is ordinary registry content: a manifest the cache stores before its blobs keeps them from GC
 * once they arrive, even when another cached image that pulled them first is removed; a client push still
 * needs its blobs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { MemoryMetadataStore } from '../metadata/memory/index.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { Registry } from '../registry/registry.js';
import { MemoryBlobStore } from '../storage/memory.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function image(config: Buffer, layers: Buffer[]): Buffer {
  const d = (b: Buffer, mediaType: string) => ({ mediaType, digest: digestOf(b), size: b.length });
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: d(config, 'application/vnd.oci.image.config.v1+json'),
      layers: layers.map((l) => d(l, 'application/vnd.oci.image.layer.v1.tar')),
    }),
  );
}

test('a cached manifest is stored before its blobs, and keeps them from GC once they arrive', async () => {
  let time = 1_700_000_000_000;
  const now = () => time;
  const blobs = new MemoryBlobStore();
  const reg = new Registry(blobs, new MemoryMetadataStore({ now }), {
    now,
    deleteEnabled: true,
    manifestMaxBytes: 1 << 20,
    blobMaxBytes: 0,
    tagsPerPush: 10,
    pageMax: 1000,
    gcGraceMs: 10,
  });
  const shared = randomBytes(100);
  const [configA, configB, onlyA] = [randomBytes(20), randomBytes(20), randomBytes(50)];
  const a = image(configA, [shared, onlyA]);
  const b = image(configB, [shared]);
  await reg.cacheManifest('hub/a', 'v1', OCI_MANIFEST, a);
  await reg.cacheManifest('hub/b', 'v1', OCI_MANIFEST, b);
  assert.equal((await reg.statManifest('hub/a', 'v1')).digest, digestOf(a));
  // The blobs arrive as clients pull them (hub/b pulls its own copy of the shared layer later).
  const put = (repo: string, data: Buffer) => reg.monolithicUpload(repo, digestOf(data), Readable.from([data]));
  for (const blob of [configA, shared, onlyA]) await put('hub/a', blob);
  await put('hub/b', configB);
  // Image a is removed (retention); GC after the grace period.
  await reg.deleteManifest('hub/a', digestOf(a));
  time += 1000;
  await reg.collectGarbage();
  const held = async (d: Digest) => (await blobs.stat(d)) !== null;
  assert.equal(await held(digestOf(shared)), true, 'the layer image b still uses stays');
  assert.equal(await held(digestOf(onlyA)), false, 'what only image a used is collected');
  // A client's push is still held to its blobs.
  await assert.rejects(
    reg.putManifest('team/app', 'v1', OCI_MANIFEST, image(randomBytes(20), [])),
    (e: unknown) => e instanceof OciError && e.code === 'MANIFEST_BLOB_UNKNOWN',
  );
});
