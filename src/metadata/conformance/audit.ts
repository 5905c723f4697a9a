// Metadata conformance, audit: the audit trail.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { currentStore, runSuites, type Ctx, type StoreFactory } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function auditSuite(ctx: Ctx): void {
  const store = currentStore(ctx);

  describe('audit', () => {
    test('events come back newest first, filtered by time, actor and repository', async () => {
      const ev = (at: number, actor: string | null, action: string, repository: string | null) => ({
        at,
        actor,
        address: '127.0.0.1',
        action,
        repository,
        reference: 'v1',
        status: 201,
      });
      await store.audit.append([
        ev(100, 'alice', 'push', 'team/a'),
        ev(200, null, 'pull', 'team/a'),
        ev(300, 'bob', 'delete', 'team/b'),
      ]);
      await store.audit.append([]);
      assert.deepEqual(
        (await store.audit.list({ limit: 10 })).map((e) => e.at),
        [300, 200, 100],
      );
      assert.deepEqual(await store.audit.list({ limit: 10, actor: 'alice' }), [ev(100, 'alice', 'push', 'team/a')]);
      const since150 = await store.audit.list({ limit: 10, repository: 'team/a', since: 150 });
      assert.deepEqual(
        since150.map((e) => e.action),
        ['pull'],
      );
      assert.equal((await store.audit.list({ limit: 1 })).length, 1);
      assert.equal(await store.audit.purge(250), 2);
      assert.deepEqual(
        (await store.audit.list({ limit: 10 })).map((e) => e.at),
        [300],
      );
    });
  });
}

/** The audit role's conformance suite alone. */
export function runAuditConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore audit conformance: ${name}`, create, [auditSuite]);
}
