// Metadata conformance, blobs: blob rows and their repository links.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { blob, currentStore, runSuites, type Ctx, type StoreFactory } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function blobSuite(ctx: Ctx): void {
  const store = currentStore(ctx);

  describe('blobs', () => {
    test('blobs.add is idempotent and creates the repository', async () => {
      const d = blob('a');
      await store.blobs.add('lib/app', d, 42);
      await store.blobs.add('lib/app', d, 42);
      assert.equal(await store.blobs.get('lib/app', d), 42);
      assert.deepEqual(await store.manifests.listRepositories({}), ['lib/app']);
      assert.deepEqual(await store.manifests.listTags('lib/app', {}), []);
    });

    test('blobs.get only sees blobs linked to the repository; blobs.getGlobal sees any', async () => {
      const d = blob('a');
      await store.blobs.add('one', d, 7);
      assert.equal(await store.blobs.get('one', d), 7);
      assert.equal(await store.blobs.get('two', d), null);
      assert.equal(await store.blobs.getGlobal(d), 7);
      assert.equal(await store.blobs.getGlobal(blob('unknown')), null);
      assert.equal(await store.blobs.get('one', blob('unknown')), null);
    });

    test('linking an existing blob to a second repository (mount)', async () => {
      const d = blob('a');
      await store.blobs.add('one', d, 7);
      await store.blobs.add('two', d, 7);
      assert.equal(await store.blobs.get('two', d), 7);
      assert.deepEqual(await store.manifests.listRepositories({}), ['one', 'two']);
    });

    test('blobs.unlink reports whether a link was removed and leaves other links and the blob', async () => {
      const d = blob('a');
      await store.blobs.add('one', d, 7);
      await store.blobs.add('two', d, 7);
      assert.equal(await store.blobs.unlink('one', d), true);
      assert.equal(await store.blobs.unlink('one', d), false);
      assert.equal(await store.blobs.unlink('nowhere', d), false);
      assert.equal(await store.blobs.get('one', d), null);
      assert.equal(await store.blobs.get('two', d), 7);
      assert.equal(await store.blobs.getGlobal(d), 7);
    });

    test('a repository outlives unlinking its last blob', async () => {
      const d = blob('a');
      await store.blobs.add('one', d, 7);
      await store.blobs.unlink('one', d);
      assert.deepEqual(await store.manifests.listRepositories({}), ['one']);
      assert.deepEqual(await store.manifests.listTags('one', {}), []);
    });
  });
}

/** The blobs role's conformance suite alone. */
export function runBlobConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore blobs conformance: ${name}`, create, [blobSuite]);
}
