import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { digestOf } from '../oci/digest.js';
import { MemoryMetadataStore } from '../metadata/memory/index.js';
import { MemoryBlobStore } from '../storage/memory.js';
import { Registry } from './registry.js';

test('fsck finds rows without bytes, bytes without rows and corrupt blobs, and repairs them', async () => {
  const blobs = new MemoryBlobStore();
  const meta = new MemoryMetadataStore();
  const reg = new Registry(blobs, meta, {
    deleteEnabled: true,
    manifestMaxBytes: 1 << 20,
    blobMaxBytes: 0,
    tagsPerPush: 10,
    pageMax: 100,
  });
  const good = randomBytes(100);
  const lost = randomBytes(100);
  const gd = digestOf(good);
  const ld = digestOf(lost);
  await reg.monolithicUpload('r', gd, Readable.from([good]));
  await reg.monolithicUpload('r', ld, Readable.from([lost]));
  await blobs.delete(ld); // bytes lost behind the registry's back
  const orphan = randomBytes(10);
  await blobs.put(digestOf(orphan), orphan); // bytes nobody recorded
  const cd = digestOf('what it should be');
  await blobs.put(cd, Buffer.from('what it is instead'));
  await meta.blobs.add('r', cd, 18);

  assert.deepEqual(await reg.fsck(), {
    checked: 3,
    missing: [ld],
    corrupt: [],
    orphaned: [digestOf(orphan)],
    pending: [],
    repaired: false,
  });
  const verified = await reg.fsck({ verify: true });
  assert.deepEqual(verified.corrupt, [cd]);

  const repaired = await reg.fsck({ repair: true, verify: true });
  assert.equal(repaired.repaired, true);
  assert.deepEqual(await reg.fsck({ verify: true }), {
    checked: 1,
    missing: [],
    corrupt: [],
    orphaned: [],
    pending: [],
    repaired: false,
  });
  assert.equal(await reg.statBlob('r', gd), 100);
  assert.equal(await meta.blobs.get('r', ld), null);
});
