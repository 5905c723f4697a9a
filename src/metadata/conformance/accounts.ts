// Metadata conformance, accounts: users and robots.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { currentStore, runSuites, type Ctx, type StoreFactory } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function accountSuite(ctx: Ctx): void {
  const store = currentStore(ctx);

  describe('accounts', () => {
    test('put, get, update, list and delete users and robots', async () => {
      const grants = { repositories: ['team/*'], actions: ['pull', 'push'] };
      const robot = {
        name: 'robot-ci',
        kind: 'robot' as const,
        passwordHash: '$2a$04$x',
        grants,
        createdAt: 10,
        expiresAt: 99,
      };
      const user = {
        name: 'alice',
        kind: 'user' as const,
        passwordHash: '$2a$04$y',
        grants: null,
        createdAt: 20,
        expiresAt: null,
      };
      await store.accounts.put(robot);
      await store.accounts.put(user);
      assert.deepEqual(await store.accounts.get('robot-ci'), robot);
      assert.deepEqual(
        (await store.accounts.list()).map((a) => a.name),
        ['alice', 'robot-ci'],
      );
      await store.accounts.put({ ...user, passwordHash: '$2a$04$z', createdAt: 999 });
      const updated = { ...user, passwordHash: '$2a$04$z' };
      assert.deepEqual(await store.accounts.get('alice'), updated, 'an update keeps the creation time');
      assert.equal(await store.accounts.delete('alice'), true);
      assert.equal(await store.accounts.delete('alice'), false);
      assert.equal(await store.accounts.get('alice'), null);
    });
  });
}

/** The accounts role's conformance suite alone. */
export function runAccountConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore accounts conformance: ${name}`, create, [accountSuite]);
}
