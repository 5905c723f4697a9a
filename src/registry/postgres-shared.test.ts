// State shared by two replicas (two Registry instances) on one PostgreSQL schema and one blob store: HEAD touches
// seen by the other's collector, per-digest locks across replicas, exact quotas, and shared rate limits.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { PgMetadataStore } from '../metadata/postgres/index.js';
import { digestOf } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { registryOptions } from '../server/open.js';
import { MemoryBlobStore } from '../storage/memory.js';
import { testClock } from '../test/helpers.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';
import { startTestServer, type TestServer } from '../test/testkit.js';
import { Registry } from './registry.js';
import type { RegistryOptions } from './options.js';

const url = await postgresUrl();
const GRACE = 60_000;

/** Two replicas over one fresh schema and one blob store, with `options` and a clock of the test's. */
async function replicas(options: Partial<RegistryOptions> = {}) {
  const { schema, drop } = await freshSchema(url!);
  const clock = testClock();
  const blobs = new MemoryBlobStore();
  const open = () => PgMetadataStore.open({ url: url!, schema, poolSize: 4, now: clock.now });
  const opts = { ...registryOptions(), sharedMetadata: true, gcGraceMs: GRACE, now: clock.now, ...options };
  const [a, b] = [new Registry(blobs, await open(), opts), new Registry(blobs, await open(), opts)];
  return {
    a,
    b,
    clock,
    close: async () => {
      await a.close();
      await b.close();
      await drop();
    },
  };
}

const push = (r: Registry, repo: string, bytes: Buffer) =>
  r.monolithicUpload(repo, digestOf(bytes), Readable.from([bytes]), bytes.length);

describe('replicas sharing PostgreSQL', { skip: url ? false : POSTGRES_SKIP }, () => {
  test('a blob HEADed on one replica is kept by the other one collecting, within the grace period', async () => {
    const { a, b, clock, close } = await replicas();
    try {
      const [headed, idle] = [Buffer.from('headed layer'), Buffer.from('idle layer')];
      await push(a, 'app', headed);
      await push(a, 'app', idle);
      clock.advance(GRACE + 1000);
      // Both are unreferenced and past their upload lease; a client HEADs one on replica A, as before a manifest PUT.
      assert.equal(await a.statBlob('app', digestOf(headed)), headed.length);
      await a.flushTouches();
      clock.advance(1000);
      const gc = await b.collectGarbage();
      assert.deepEqual(
        gc.blobs.map((x) => x.digest),
        [digestOf(idle)],
        'B collected the idle blob only',
      );
      assert.equal(await b.statBlob('app', digestOf(headed)), headed.length);
      // A touch (this HEAD on B too) is a lease of one grace period: past it, the blob goes like any other.
      clock.advance(GRACE + 1000);
      assert.deepEqual(
        (await b.collectGarbage()).blobs.map((x) => x.digest),
        [digestOf(headed)],
      );
    } finally {
      await close();
    }
  });

  test('the per-digest lock is one lock across replicas (a sweep waits for a commit of the same digest)', async () => {
    const { schema, drop } = await freshSchema(url!);
    const [s1, s2] = [
      await PgMetadataStore.open({ url: url!, schema, poolSize: 2 }),
      await PgMetadataStore.open({ url: url!, schema, poolSize: 2 }),
    ];
    try {
      const order: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const holder = s1.locks.run('digest:sha256:aa', async () => {
        order.push('A in');
        entered();
        await gate;
        order.push('A out');
      });
      await inside;
      const waiter = s2.locks.run('digest:sha256:aa', async () => void order.push('B in'));
      // Another digest is not held back, and the waiter still waits.
      await s2.locks.run('digest:sha256:bb', async () => void order.push('B other'));
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(order, ['A in', 'B other']);
      release();
      await Promise.all([holder, waiter]);
      assert.deepEqual(order, ['A in', 'B other', 'A out', 'B in']);
      // A lock whose function throws is released too.
      await assert.rejects(
        s1.locks.run('digest:sha256:cc', async () => {
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await s2.locks.run('digest:sha256:cc', async () => 'free'), 'free');
    } finally {
      await s1.close();
      await s2.close();
      await drop();
    }
  });

  test('a quota is exact across replicas: of two pushes racing for the last bytes, one is refused', async () => {
    const quotas = [{ repositories: ['q*'], limitBytes: 1000 }];
    const { a, b, close } = await replicas({ quotas });
    try {
      const repos = Array.from({ length: 8 }, (_, i) => `q${i}`);
      const outcomes = await Promise.all(
        repos.flatMap((repo) =>
          [a, b].map((r, i) =>
            push(r, repo, Buffer.alloc(600, `${repo}-${i}`)).then(
              () => 'ok',
              (e: unknown) => (e instanceof OciError && e.code === 'DENIED' ? 'denied' : `error ${String(e)}`),
            ),
          ),
        ),
      );
      for (const [i, repo] of repos.entries()) {
        assert.deepEqual(outcomes.slice(2 * i, 2 * i + 2).sort(), ['denied', 'ok'], `${repo}: ${outcomes}`);
      }
      const report = await a.usageReport();
      for (const r of report.repositories) assert.equal(r.bytes, 600, r.name);
    } finally {
      await close();
    }
  });

  test('rate limits are counted across replicas: a caller gets one budget, not one per replica', async () => {
    const { schema, drop } = await freshSchema(url!);
    const config = {
      metadata: { driver: 'postgres' as const, postgres: { url: url!, schema } },
      rateLimits: [{ action: 'request' as const, limit: 6, window: '1h' }],
    };
    let one: TestServer | undefined;
    let two: TestServer | undefined;
    try {
      one = await startTestServer(config);
      two = await startTestServer(config);
      const statuses: number[] = [];
      const remaining: string[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await (i % 2 === 0 ? one : two).req('GET', '/v2/');
        statuses.push(res.status);
        remaining.push(String(res.headers['ratelimit-remaining'] ?? ''));
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429, 429]);
      assert.deepEqual(remaining.slice(0, 6), ['5;w=3600', '4;w=3600', '3;w=3600', '2;w=3600', '1;w=3600', '0;w=3600']);
    } finally {
      await one?.close();
      await two?.close();
      await drop();
    }
  });
});
