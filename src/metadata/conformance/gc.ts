// Metadata conformance, gc: candidates, mark, sweep and fsck rows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { blob, bytewise, currentStore, manifest, runSuites, type Ctx, type StoreFactory } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function gcSuite(ctx: Ctx): void {
  const store = currentStore(ctx);

  describe('garbage collection', () => {
    // Rows get created_at from the store's clock, so "later" means a cutoff in the future.
    const future = () => Date.now() + 60_000;

    test('candidates are unreferenced live blobs created before the cutoff and not leased', async () => {
      const [a, b, c, d] = [blob('gc-a'), blob('gc-b'), blob('gc-c'), blob('gc-d')];
      await store.blobs.add('r', a, 1);
      await store.blobs.add('r', b, 1);
      await store.blobs.add('r', c, 1, future() + 60_000);
      await store.blobs.add('r', d, 1);
      const m = manifest('r', 'gc');
      assert.deepEqual(await store.manifests.put(m, { blobs: [b], manifests: [] }, ['t']), { missing: [] });
      const now = Date.now() + 1;
      assert.deepEqual(new Set(await store.gc.candidates(now, future())), new Set([a, d]));
      // Before the cutoff nothing qualifies: the grace period.
      assert.deepEqual(await store.gc.candidates(now, Date.now() - 60_000), []);
      // Deleting the manifest exposes its blob and the manifest's own bytes.
      await store.manifests.delete('r', m.digest);
      assert.deepEqual(new Set(await store.gc.candidates(now, future())), new Set([a, b, d, m.digest]));
    });

    test('mark flips candidates to deleting and unlinks them everywhere; forget drops only deleting rows', async () => {
      const a = blob('gc-mark');
      await store.blobs.add('r1', a, 5);
      await store.blobs.add('r2', a, 5);
      const now = Date.now() + 1;
      assert.deepEqual(await store.gc.mark([a], now, future()), [a]);
      assert.equal(await store.gc.state(a), 'deleting');
      assert.equal(await store.blobs.get('r1', a), null);
      assert.equal(await store.blobs.get('r2', a), null);
      assert.deepEqual(await store.gc.listDeleting(), [a]);
      assert.deepEqual(await store.gc.candidates(now, future()), []);
      assert.equal(await store.gc.forget(a), true);
      assert.equal(await store.gc.state(a), null);
      assert.equal(await store.gc.forget(a), false);
    });

    test('mark re-checks: a blob referenced since it was listed is not marked', async () => {
      const a = blob('gc-race');
      await store.blobs.add('r', a, 1);
      const now = Date.now() + 1;
      const listed = await store.gc.candidates(now, future());
      assert.deepEqual(listed, [a]);
      await store.manifests.put(manifest('r', 'gc-race'), { blobs: [a], manifests: [] }, []);
      assert.deepEqual(await store.gc.mark(listed, now, future()), []);
      assert.equal(await store.gc.state(a), 'live');
    });

    test('a manifest PUT after the mark sees the blob as missing', async () => {
      const a = blob('gc-put');
      await store.blobs.add('r', a, 1);
      await store.gc.mark([a], Date.now() + 1, future());
      const res = await store.manifests.put(manifest('r', 'gc-put'), { blobs: [a], manifests: [] }, ['x']);
      assert.deepEqual(res, { missing: [a] });
    });

    test('adding a blob revives a deleting one, and gc.forget then leaves it alone', async () => {
      const a = blob('gc-revive');
      await store.blobs.add('r', a, 7);
      await store.gc.mark([a], Date.now() + 1, future());
      await store.blobs.add('r', a, 7, Date.now() + 1000);
      assert.equal(await store.gc.state(a), 'live');
      assert.equal(await store.blobs.get('r', a), 7);
      assert.equal(await store.gc.forget(a), false);
      assert.deepEqual(await store.gc.listDeleting(), []);
      // The lease now protects it from the next round.
      assert.deepEqual(await store.gc.candidates(Date.now(), future()), []);
    });

    test('gc.listBlobs shows every row with its state; gc.drop removes row and links whatever the state', async () => {
      const [a, b] = [blob('fsck-a'), blob('fsck-b')];
      await store.blobs.add('r1', a, 3);
      await store.blobs.add('r2', a, 3);
      await store.blobs.add('r1', b, 4);
      await store.gc.mark([b], Date.now() + 1, future());
      const byDigest = (x: { digest: string }, y: { digest: string }) => bytewise(x.digest, y.digest);
      assert.deepEqual(
        (await store.gc.listBlobs()).filter((x) => x.digest === a || x.digest === b).sort(byDigest),
        [
          { digest: a, size: 3, state: 'live' as const },
          { digest: b, size: 4, state: 'deleting' as const },
        ].sort(byDigest),
      );
      assert.equal(await store.gc.drop(a), true);
      assert.equal(await store.blobs.get('r1', a), null);
      assert.equal(await store.blobs.get('r2', a), null);
      assert.equal(await store.gc.state(a), null);
      assert.equal(await store.gc.drop(b), true);
      assert.equal(await store.gc.drop(b), false);
    });
  });
}

/** The gc role's conformance suite alone. */
export function runGcConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore gc conformance: ${name}`, create, [gcSuite]);
}
