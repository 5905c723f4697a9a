import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { digestOf } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MemoryMetadataStore } from '../metadata/memory/index.js';
import { MemoryBlobStore } from '../storage/memory.js';
import { Registry, type RegistryOptions } from './registry.js';

const options: RegistryOptions = {
  deleteEnabled: true,
  manifestMaxBytes: 1 << 20,
  blobMaxBytes: 0,
  tagsPerPush: 10,
  pageMax: 1000,
};

function setup(extra: Partial<RegistryOptions> = {}) {
  const blobs = new MemoryBlobStore();
  const meta = new MemoryMetadataStore();
  let clock = 1_000_000;
  const reg = new Registry(blobs, meta, { ...options, ...extra, now: () => clock });
  return {
    blobs,
    meta,
    reg,
    advance: (ms: number) => (clock += ms),
    fresh: () => new Registry(blobs, meta, { ...options, now: () => clock }),
  };
}

test(
  'a chunked upload continued by another Registry instance (restart, other replica) re-hashes from ' + 'storage',
  async () => {
    const { reg, fresh } = setup();
    const data = randomBytes(200_000);
    const up = await reg.startUpload('r');
    await reg.patchUpload('r', up.id, Readable.from([data.subarray(0, 100_000)]), { start: 0, end: 99_999 });
    const other = fresh();
    await other.patchUpload('r', up.id, Readable.from([data.subarray(100_000)]), { start: 100_000, end: 199_999 });
    assert.equal(await other.completeUpload('r', up.id, digestOf(data)), data.length);
    assert.equal(await reg.statBlob('r', digestOf(data)), data.length);
  },
);

test('a sha512 digest closes an upload hashed inline with sha256 (falls back to re-reading)', async () => {
  const { reg } = setup();
  const data = randomBytes(5000);
  const up = await reg.startUpload('r');
  await reg.patchUpload('r', up.id, Readable.from([data]));
  const d = digestOf(data, 'sha512');
  await reg.completeUpload('r', up.id, d);
  assert.equal(await reg.statBlob('r', d), 5000);
});

test('a wrong digest is refused and leaves no blob and no session', async () => {
  const { reg, meta, blobs } = setup();
  const up = await reg.startUpload('r');
  await reg.patchUpload('r', up.id, Readable.from([Buffer.from('abc')]));
  const wrong = digestOf('xyz');
  await assert.rejects(
    reg.completeUpload('r', up.id, wrong),
    (e: unknown) => e instanceof OciError && e.code === 'DIGEST_INVALID',
  );
  assert.equal(await blobs.stat(wrong), null);
  assert.equal(await meta.uploads.get(up.id), null);
  assert.equal(await blobs.uploadSize(up.id), null);
});

test('the blob size limit stops an upload with SIZE_TOO_LARGE', async () => {
  const { reg } = setup({ blobMaxBytes: 1000 });
  const up = await reg.startUpload('r');
  await assert.rejects(
    reg.patchUpload('r', up.id, Readable.from([randomBytes(600), randomBytes(600)])),
    (e: unknown) => e instanceof OciError && e.code === 'SIZE_TOO_LARGE',
  );
});

test('stale upload sessions and orphaned upload bytes are purged; fresh ones stay', async () => {
  const { reg, meta, blobs, advance } = setup();
  const old = await reg.startUpload('r');
  await reg.patchUpload('r', old.id, Readable.from([Buffer.from('old')]));
  advance(10_000);
  const young = await reg.startUpload('r');
  await reg.patchUpload('r', young.id, Readable.from([Buffer.from('young')]));
  await blobs.writeUpload('orphan-without-session', 0, Readable.from([Buffer.from('x')]));
  assert.equal(await reg.purgeUploads(5_000), 2);
  assert.equal(await meta.uploads.get(old.id), null);
  assert.equal(await blobs.uploadSize(old.id), null);
  assert.equal(await blobs.uploadSize('orphan-without-session'), null);
  assert.equal((await meta.uploads.get(young.id))?.offset, 5);
  await assert.rejects(
    reg.getUpload('r', old.id),
    (e: unknown) => e instanceof OciError && e.code === 'BLOB_UPLOAD_UNKNOWN',
  );
});

test('deletion off: every delete is UNSUPPORTED', async () => {
  const { reg } = setup({ deleteEnabled: false });
  await assert.rejects(
    reg.deleteManifest('r', 'latest'),
    (e: unknown) => e instanceof OciError && e.code === 'UNSUPPORTED',
  );
  await assert.rejects(
    reg.deleteBlob('r', digestOf('x')),
    (e: unknown) => e instanceof OciError && e.code === 'UNSUPPORTED',
  );
});

test('the lookup cache never serves a moved or deleted tag, nor a stale tag list', async () => {
  const { reg } = setup({ cacheLookups: true });
  const config = Buffer.from('{}');
  const cd = digestOf(config);
  await reg.monolithicUpload('r', cd, Readable.from([config]));
  const manifest = (n: number) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: 2 },
        layers: [],
        annotations: { n: String(n) },
      }),
    );
  const a = await reg.putManifest('r', 'v1', undefined, manifest(1));
  assert.equal((await reg.getManifest('r', 'v1')).record.digest, a.digest);
  assert.deepEqual((await reg.listTags('r', {})).items, ['v1']);
  const b = await reg.putManifest('r', 'v1', undefined, manifest(2));
  await reg.putManifest('r', 'v2', undefined, manifest(3));
  assert.equal((await reg.getManifest('r', 'v1')).record.digest, b.digest);
  assert.deepEqual((await reg.listTags('r', {})).items, ['v1', 'v2']);
  await reg.deleteManifest('r', 'v1');
  await assert.rejects(
    reg.getManifest('r', 'v1'),
    (e: unknown) => e instanceof OciError && e.code === 'MANIFEST_UNKNOWN',
  );
  assert.deepEqual((await reg.listTags('r', {})).items, ['v2']);
  assert.equal((await reg.getManifest('r', a.digest)).record.digest, a.digest);
  await reg.deleteManifest('r', a.digest);
  await assert.rejects(
    reg.getManifest('r', a.digest),
    (e: unknown) => e instanceof OciError && e.code === 'MANIFEST_UNKNOWN',
  );
});

test('a monolithic upload with the digest its caller hashed is checked against it, not hashed again', async () => {
  const { reg, blobs } = setup();
  const data = randomBytes(3000);
  const d = digestOf(data);
  // The caller's digest says the bytes are something else: refused, nothing stored.
  await assert.rejects(
    reg.monolithicUpload('r', d, Readable.from([data]), data.length, Promise.resolve(digestOf('other'))),
    (e: unknown) => e instanceof OciError && e.code === 'DIGEST_INVALID',
  );
  assert.equal(await blobs.stat(d), null);
  // The caller's digest is what the store compares (it does not hash the bytes itself): a right one commits.
  assert.equal(await reg.monolithicUpload('r', d, Readable.from([data]), data.length, Promise.resolve(d)), 3000);
  assert.equal(await reg.statBlob('r', d), 3000);
  // A caller whose stream failed: its digest never comes, the upload fails and stores nothing.
  const e = randomBytes(10);
  const cut = Promise.reject(new Error('upstream cut'));
  cut.catch(() => undefined);
  await assert.rejects(reg.monolithicUpload('r', digestOf(e), Readable.from([e]), e.length, cut), /upstream cut/);
  assert.equal(await blobs.stat(digestOf(e)), null);
});
