// Metadata conformance, uploads: sessions and their owners.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { currentStore, runSuites, type Ctx, type StoreFactory } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function uploadSuite(ctx: Ctx): void {
  const store = currentStore(ctx);

  describe('uploads', () => {
    const upload = { id: 'u-1', repo: 'app', offset: 0, createdAt: 1000, updatedAt: 1000, owner: null };

    test('create, get, update, delete', async () => {
      await store.uploads.create({ ...upload });
      assert.deepEqual(await store.uploads.get('u-1'), upload);
      assert.equal(await store.uploads.update('u-1', 4096, 2000), true);
      assert.deepEqual(await store.uploads.get('u-1'), { ...upload, offset: 4096, updatedAt: 2000 });
      assert.equal(await store.uploads.delete('u-1'), true);
      assert.equal(await store.uploads.get('u-1'), null);
      assert.equal(await store.uploads.delete('u-1'), false);
      assert.equal(await store.uploads.update('u-1', 8192, 3000), false);
      assert.equal(await store.uploads.get('u-1'), null);
    });

    test('unknown sessions', async () => {
      assert.equal(await store.uploads.get('nope'), null);
      assert.equal(await store.uploads.update('nope', 1, 1), false);
      assert.equal(await store.uploads.delete('nope'), false);
    });

    test('an upload does not create its repository', async () => {
      await store.uploads.create({ ...upload, repo: 'new' });
      assert.deepEqual(await store.manifests.listRepositories({}), []);
      assert.equal(await store.manifests.listTags('new', {}), null);
    });

    test('creating an upload with an existing id fails', async () => {
      await store.uploads.create({ ...upload });
      await assert.rejects(store.uploads.create({ ...upload, repo: 'other' }), /upload u-1 already exists/);
      assert.deepEqual(await store.uploads.get('u-1'), upload);
    });

    test('uploads.listStale returns sessions updated strictly before the cutoff', async () => {
      await store.uploads.create({ ...upload, id: 'old', updatedAt: 100 });
      await store.uploads.create({ ...upload, id: 'edge', updatedAt: 200 });
      await store.uploads.create({ ...upload, id: 'new', updatedAt: 300 });
      await store.uploads.create({ ...upload, id: 'bumped', updatedAt: 50 });
      await store.uploads.update('bumped', 10, 250);
      const ids = async (before: number): Promise<string[]> =>
        (await store.uploads.listStale(before)).map((u) => u.id).sort();
      assert.deepEqual(await ids(200), ['old']);
      assert.deepEqual(await ids(201), ['edge', 'old']);
      assert.deepEqual(await ids(1000), ['bumped', 'edge', 'new', 'old']);
      assert.deepEqual(await ids(0), []);
      const [old] = await store.uploads.listStale(101);
      assert.deepEqual(old, { ...upload, id: 'old', updatedAt: 100 });
    });

    test('open uploads are counted per owner', async () => {
      await store.uploads.create({ id: 'o1', repo: 'r', offset: 0, createdAt: 1, updatedAt: 1, owner: 'alice' });
      await store.uploads.create({ id: 'o2', repo: 'r', offset: 0, createdAt: 1, updatedAt: 1, owner: 'alice' });
      await store.uploads.create({ id: 'o3', repo: 'r', offset: 0, createdAt: 1, updatedAt: 1, owner: 'bob' });
      assert.equal(await store.uploads.countByOwner('alice'), 2);
      await store.uploads.delete('o1');
      assert.equal(await store.uploads.countByOwner('alice'), 1);
      assert.equal(await store.uploads.countByOwner('nobody'), 0);
      const kept = 'the owner is kept (an upload belongs to whoever started it)';
      assert.equal((await store.uploads.get('o3'))?.owner, 'bob', kept);
    });
  });
}

/** The uploads role's conformance suite alone. */
export function runUploadConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore uploads conformance: ${name}`, create, [uploadSuite]);
}
