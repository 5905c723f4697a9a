// Metadata conformance, events: the outbox, its leases and order, and events written with the change they describe.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OutboxEntry } from '../types.js';
import { blob, currentStore, manifest, NO_REFS, runSuites, type Ctx, type StoreFactory } from './fixtures.js';

const ev = (repo: string, label: string, endpoint = 'hook'): OutboxEntry => ({
  endpoint,
  repo,
  payload: JSON.stringify({ label }),
});
const labels = (rows: { payload: string }[]) => rows.map((r) => (JSON.parse(r.payload) as { label: string }).label);

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function eventSuite(ctx: Ctx): void {
  const store = currentStore(ctx);
  const now = 1_000;

  describe('events', () => {
    test('events are claimed oldest first, per endpoint, and gone once acknowledged', async () => {
      await store.events.append([ev('a', '1'), ev('b', '2'), ev('a', '3', 'other'), ev('a', '4')]);
      assert.deepEqual(await store.events.backlog(), { hook: 3, other: 1 });
      const got = await store.events.claim('me', ['hook'], now, now + 100, 10);
      assert.deepEqual(labels(got), ['1', '2', '4']);
      assert.deepEqual(
        got.map((r) => [r.repo, r.endpoint, r.attempts]),
        [
          ['a', 'hook', 0],
          ['b', 'hook', 0],
          ['a', 'hook', 0],
        ],
      );
      assert.ok(got[0]!.id < got[1]!.id && got[1]!.id < got[2]!.id);
      // Leased: nobody else gets them while the lease runs.
      assert.deepEqual(await store.events.claim('you', ['hook', 'other'], now, now + 100, 10).then(labels), ['3']);
      assert.equal(await store.events.ack('you', [got[0]!.id]), 0, 'only the lease holder acknowledges');
      assert.equal(await store.events.ack('me', [got[0]!.id, got[1]!.id]), 2);
      assert.deepEqual(await store.events.backlog(), { hook: 1, other: 1 });
    });

    test("one repository's events wait behind an earlier one that is leased or backing off", async () => {
      await store.events.append([ev('a', '1'), ev('a', '2'), ev('b', '3'), ev('a', '4')]);
      const first = await store.events.claim('r1', ['hook'], now, now + 100, 1);
      assert.deepEqual(labels(first), ['1']);
      // Replica two: event 2 and 4 of repository a wait for event 1; b goes on.
      assert.deepEqual(labels(await store.events.claim('r2', ['hook'], now, now + 100, 10)), ['3']);
      // Event 1 fails: it and its successors wait until its retry time.
      await store.events.retry('r1', [first[0]!.id], now + 50);
      assert.deepEqual(await store.events.claim('r2', ['hook'], now + 10, now + 100, 10), []);
      const again = await store.events.claim('r2', ['hook'], now + 50, now + 150, 10);
      assert.deepEqual(labels(again), ['1', '2', '4']);
      assert.equal(again[0]!.attempts, 1);
    });

    test('an expired lease is taken over, and its old holder can no longer acknowledge', async () => {
      await store.events.append([ev('a', '1')]);
      const [mine] = await store.events.claim('r1', ['hook'], now, now + 100, 10);
      const [theirs] = await store.events.claim('r2', ['hook'], now + 100, now + 200, 10);
      assert.equal(theirs?.id, mine?.id);
      assert.equal(await store.events.ack('r1', [mine!.id]), 0);
      await store.events.retry('r1', [mine!.id], now);
      assert.equal(await store.events.ack('r2', [mine!.id]), 1);
      assert.deepEqual(await store.events.backlog(), {});
    });

    test('a change writes its events with it; a change refused or not made writes none', async () => {
      const rec = manifest('repo', 'm');
      await store.blobs.add('repo', blob('x'), 10, 0, [ev('repo', 'blob push')]);
      const missing = await store.manifests.put(
        rec,
        { blobs: [blob('y')], manifests: [] },
        ['v1'],
        [],
        [ev('repo', 'refused')],
      );
      assert.equal(missing.missing.length, 1);
      assert.deepEqual(await store.manifests.put(rec, NO_REFS, ['v1'], [], [ev('repo', 'push')]), { missing: [] });
      const other = manifest('repo', 'other');
      const refused = await store.manifests.put(other, NO_REFS, ['v1'], ['v1'], [ev('repo', 'immutable')]);
      assert.deepEqual(refused.refused, ['v1']);
      assert.equal(await store.manifests.deleteTag('repo', 'nope', [ev('repo', 'no tag')]), false);
      assert.equal(await store.manifests.deleteTag('repo', 'v1', [ev('repo', 'untag')]), true);
      assert.equal(await store.manifests.delete('repo', other.digest, [ev('repo', 'no manifest')]), false);
      assert.equal(await store.manifests.delete('repo', rec.digest, [ev('repo', 'delete')]), true);
      assert.equal(await store.blobs.unlink('repo', blob('nope'), [ev('repo', 'no blob')]), false);
      assert.equal(await store.blobs.unlink('repo', blob('x'), [ev('repo', 'blob delete')]), true);
      const rows = await store.events.claim('me', ['hook'], now, now + 100, 100);
      assert.deepEqual(labels(rows), ['blob push', 'push', 'untag', 'delete', 'blob delete']);
    });
  });
}

/** The events role's conformance suite alone. */
export function runEventConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore events conformance: ${name}`, create, [eventSuite]);
}
