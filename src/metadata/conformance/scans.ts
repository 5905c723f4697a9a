// Metadata conformance, scans: vulnerability scans of pushed manifests (enqueue once, pending, stale, save).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import type { ScanRecord } from '../types.js';
import { currentStore, INDEX, manifest, pusher, runSuites, type Ctx, type StoreFactory } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function scanSuite(ctx: Ctx): void {
  const store = currentStore(ctx);
  const a = digestOf('scan-a');
  const b = digestOf('scan-b');
  const c = digestOf('scan-c');

  describe('scans', () => {
    test('enqueue adds a pending row once per digest; get and getMany read it back', async () => {
      assert.equal(await store.scans.get(a), null);
      assert.equal(await store.scans.enqueue(a, 'app', 10), true);
      assert.equal(await store.scans.enqueue(a, 'other', 20), false, 'a digest is scanned once, wherever pushed');
      const row = await store.scans.get(a);
      assert.deepEqual(row, {
        digest: a,
        repository: 'app',
        state: 'pending',
        generation: null,
        packages: null,
        report: null,
        summary: null,
        error: null,
        updatedAt: 10,
      });
      await store.scans.enqueue(b, 'app', 11);
      assert.deepEqual(
        (await store.scans.getMany([c, b, a, b])).map((r) => r.digest),
        [a, b].sort(),
        'rows of the digests that have one, each once, by digest',
      );
      assert.deepEqual(await store.scans.getMany([]), []);
    });

    test('pending lists oldest first up to the limit; save moves a row on', async () => {
      await store.scans.enqueue(b, 'app', 20);
      await store.scans.enqueue(a, 'app', 10);
      await store.scans.enqueue(c, 'app', 30);
      assert.deepEqual(
        (await store.scans.pending(2)).map((r) => r.digest),
        [a, b],
      );
      const done: ScanRecord = {
        digest: a,
        repository: 'app',
        state: 'done',
        generation: 'g1',
        packages: '{"packages":[]}',
        report: '{"findings":[]}',
        summary: '{"HIGH":1}',
        error: null,
        updatedAt: 40,
      };
      await store.scans.save(done);
      assert.deepEqual(await store.scans.get(a), done);
      assert.deepEqual(
        (await store.scans.pending(10)).map((r) => r.digest),
        [b, c],
      );
      await store.scans.save({ ...done, digest: b, state: 'failed', error: 'boom', generation: null, updatedAt: 41 });
      assert.equal((await store.scans.get(b))!.error, 'boom');
      assert.deepEqual(
        (await store.scans.pending(10)).map((r) => r.digest),
        [c],
      );
    });

    test('stale lists done rows of another generation only', async () => {
      const base = { repository: 'app', packages: '{}', report: '{}', summary: '{}', error: null };
      await store.scans.save({ ...base, digest: a, state: 'done', generation: 'g1', updatedAt: 2 });
      await store.scans.save({ ...base, digest: b, state: 'done', generation: 'g2', updatedAt: 1 });
      await store.scans.save({ ...base, digest: c, state: 'skipped', generation: 'g1', updatedAt: 0 });
      assert.deepEqual(
        (await store.scans.stale('g2', 10)).map((r) => r.digest),
        [a],
      );
      assert.deepEqual(
        (await store.scans.stale('g3', 1)).map((r) => r.digest),
        [b],
        'oldest first, up to the limit',
      );
      assert.deepEqual(await store.scans.stale('g1', 10).then((r) => r.map((x) => x.digest)), [b]);
    });

    test('summaries gives state and counts only, of the digests that have a row, each once, by digest', async () => {
      const base = { repository: 'app', packages: '{"big":1}', report: '{"findings":[]}', error: null, updatedAt: 1 };
      await store.scans.save({ ...base, digest: a, state: 'done', generation: 'g1', summary: '{"HIGH":2}' });
      await store.scans.enqueue(b, 'app', 2);
      assert.deepEqual(
        await store.scans.summaries([c, b, a, b]),
        [
          { digest: a, state: 'done', summary: '{"HIGH":2}' },
          { digest: b, state: 'pending', summary: null },
        ].sort((x, y) => (x.digest < y.digest ? -1 : 1)),
      );
      assert.deepEqual(await store.scans.summaries([]), []);
    });

    test('repositoryScans follows tags and tagged indexes to their scanned manifests, per repository', async () => {
      const push = pusher(store);
      const x = manifest('app', 'x');
      const y = manifest('app', 'y');
      const untagged = manifest('app', 'untagged');
      await push(x, ['one', 'two']);
      await push(y);
      await push(untagged);
      const idx = manifest('app', 'idx', { mediaType: INDEX });
      assert.deepEqual(await store.manifests.put(idx, { blobs: [], manifests: [y.digest] }, ['multi']), {
        missing: [],
      });
      await push(manifest('other', 'x'), ['latest']);
      await push(manifest('quiet', 'q'), ['v1']);
      const done = { repository: 'app', packages: null, report: null, error: null, updatedAt: 1 };
      await store.scans.save({ ...done, digest: x.digest, state: 'done', generation: 'g', summary: '{"LOW":1}' });
      await store.scans.save({ ...done, digest: y.digest, state: 'failed', generation: null, summary: null });
      await store.scans.save({ ...done, digest: untagged.digest, state: 'done', generation: 'g', summary: '{}' });
      const got = await store.scans.repositoryScans(['quiet', 'app', 'other', 'nowhere'], 100);
      const want = [
        { repository: 'app', digest: x.digest, state: 'done', summary: '{"LOW":1}' },
        { repository: 'app', digest: y.digest, state: 'failed', summary: null },
        { repository: 'other', digest: x.digest, state: 'done', summary: '{"LOW":1}' },
      ];
      want.sort((p, q) =>
        p.repository < q.repository ? -1 : p.repository > q.repository ? 1 : p.digest < q.digest ? -1 : 1,
      );
      assert.deepEqual(got, want, 'untagged manifests and repositories without scans give no rows');
      assert.deepEqual(await store.scans.repositoryScans([], 100), []);
    });

    test('repositoryScans reaches only the recentTags most recently pushed tags of each repository', async () => {
      const push = pusher(store);
      const old = manifest('app', 'old');
      const mid = manifest('app', 'mid');
      const child = manifest('app', 'child');
      await push(old, ['t1']);
      await push(mid, ['t2']);
      await push(child);
      // Pushed after t1 and t2, and later in name order too: the newest whatever the clock's resolution.
      const idx = manifest('app', 'idx', { mediaType: INDEX });
      assert.deepEqual(await store.manifests.put(idx, { blobs: [], manifests: [child.digest] }, ['t3']), {
        missing: [],
      });
      const done = { repository: 'app', packages: null, report: null, error: null, updatedAt: 1 };
      for (const m of [old, mid, child, idx])
        await store.scans.save({ ...done, digest: m.digest, state: 'done', generation: 'g', summary: '{}' });
      const digests = async (n: number) => (await store.scans.repositoryScans(['app'], n)).map((r) => r.digest);
      const sorted = (ds: string[]) => [...ds].sort((p, q) => (p < q ? -1 : 1));
      assert.deepEqual(await digests(1), sorted([idx.digest, child.digest]), 'the newest tag: an index and its child');
      assert.deepEqual(await digests(2), sorted([idx.digest, child.digest, mid.digest]));
      assert.deepEqual(await digests(3), sorted([idx.digest, child.digest, mid.digest, old.digest]));
      assert.deepEqual(await digests(50), await digests(3), 'fewer tags than the bound: all of them');
      for (const bad of [0, -1, 1.5, Number.NaN])
        await assert.rejects(store.scans.repositoryScans(['app'], bad), RangeError, `recentTags ${bad}`);
    });
  });
}

/** The scans role's conformance suite alone. */
export function runScanConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore scans conformance: ${name}`, create, [scanSuite]);
}
