// Metadata conformance, usage: quotas per scope and the usage report.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { blob, currentStore, runSuites, type Ctx, type StoreFactory } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function usageSuite(ctx: Ctx): void {
  const store = currentStore(ctx);

  describe('usage', () => {
    test('shared blobs count once per scope; namespaces match whole path segments', async () => {
      const [shared, a, b, c] = [blob('u-shared'), blob('u-a'), blob('u-b'), blob('u-c')];
      await store.blobs.add('team/app', shared, 100);
      await store.blobs.add('team/app', a, 10);
      await store.blobs.add('team/web', shared, 100);
      await store.blobs.add('team/web', b, 20);
      await store.blobs.add('teamx/other', c, 40);
      await store.blobs.add('team', c, 40);
      assert.deepEqual(await store.usage.ofScope({ repo: 'team/app' }), { blobs: 2, bytes: 110 });
      assert.deepEqual(await store.usage.ofScope({ namespace: 'team' }), { blobs: 4, bytes: 170 });
      assert.deepEqual(await store.usage.ofScope({ namespace: 'teamx' }), { blobs: 1, bytes: 40 });
      assert.deepEqual(await store.usage.ofScope({ namespace: 'nobody' }), { blobs: 0, bytes: 0 });
      assert.equal(await store.usage.linkedInScope({ namespace: 'team' }, b), true);
      assert.equal(await store.usage.linkedInScope({ repo: 'team/app' }, b), false);
      assert.equal(await store.usage.linkedInScope({ namespace: 'team' }, blob('u-none')), false);
      const report = await store.usage.report();
      assert.deepEqual(report.repositories, [
        { name: 'team', blobs: 1, bytes: 40 },
        { name: 'team/app', blobs: 2, bytes: 110 },
        { name: 'team/web', blobs: 2, bytes: 120 },
        { name: 'teamx/other', blobs: 1, bytes: 40 },
      ]);
      assert.deepEqual(report.namespaces, [
        { name: 'team', blobs: 4, bytes: 170, sumOfRepositories: 270 },
        { name: 'teamx', blobs: 1, bytes: 40, sumOfRepositories: 40 },
      ]);
      assert.deepEqual(report.total, { blobs: 4, bytes: 170 });
    });
  });
}

/** The usage role's conformance suite alone. */
export function runUsageConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore usage conformance: ${name}`, create, [usageSuite]);
}
