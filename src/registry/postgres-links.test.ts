// The blob link cache of replicas sharing PostgreSQL: HEADs answered in-process, yet a link removed through another
// replica (blob DELETE, GC, an operator's SQL) answers 404 within a bounded time, and a lost LISTEN connection
// turns the cache off until it is back.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import pg from 'pg';
import { PgMetadataStore, type PgOptions } from '../metadata/postgres/index.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { registryOptions } from '../server/open.js';
import { MemoryBlobStore } from '../storage/memory.js';
import { testClock } from '../test/helpers.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';
import { pushBlob, startTestServer, type TestServer } from '../test/testkit.js';
import { Registry } from './registry.js';

const url = await postgresUrl();
const GRACE = 60_000;
/** How long a removal may take to reach the other replica's cache here (notification latency, loaded machine). */
const BOUND_MS = 3000;

async function replicas(listenTiming?: PgOptions['listenTiming']) {
  const { schema, drop } = await freshSchema(url!);
  const clock = testClock();
  const blobs = new MemoryBlobStore();
  const stores = [] as PgMetadataStore[];
  const open = async () => {
    const s = await PgMetadataStore.open({ url: url!, schema, poolSize: 4, now: clock.now, listenTiming });
    stores.push(s);
    return s;
  };
  const opts = { ...registryOptions(), sharedMetadata: true, deleteEnabled: true, gcGraceMs: GRACE, now: clock.now };
  const [a, b] = [new Registry(blobs, await open(), opts), new Registry(blobs, await open(), opts)];
  const sql = new pg.Client({ connectionString: url!, options: `-c search_path=${schema}` });
  await sql.connect();
  return {
    a,
    b,
    clock,
    feedOfA: stores[0]!.blobsGone,
    sql,
    close: async () => {
      await sql.end();
      await a.close();
      await b.close();
      await drop();
    },
  };
}

const push = async (r: Registry, repo: string, bytes: Buffer) => {
  await r.monolithicUpload(repo, digestOf(bytes), Readable.from([bytes]), bytes.length);
  return digestOf(bytes);
};

/** statBlob's answer: the size, or the OCI error code. */
const head = (r: Registry, repo: string, digest: Digest) =>
  r.statBlob(repo, digest).then(
    (n) => n,
    (e: unknown) => (e instanceof OciError ? e.code : `error ${String(e)}`),
  );

/** Polls until `fn` resolves to `want`, for at most `ms`; resolves to how long it took. */
async function within(ms: number, want: unknown, fn: () => Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  let got: unknown;
  while (Date.now() - t0 <= ms) {
    got = await fn();
    if (got === want) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`still ${String(got)} after ${ms} ms (wanted ${String(want)})`);
}

/** Waits for the feed's LISTEN connection to be up (first use starts it). */
async function listening(feed: PgMetadataStore['blobsGone'], up = true, ms = 6000): Promise<void> {
  for (const t0 = Date.now(); Date.now() - t0 < ms && feed.listening !== up; )
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(feed.listening, up, `LISTEN connection ${up ? 'up' : 'down'}`);
}

/** Removes a link behind Kura's back with triggers off (session_replication_role): no notification is sent. */
const unlinkSilently = (sql: pg.Client, digest: Digest) =>
  sql.query(`SET session_replication_role = replica; DELETE FROM repository_blobs WHERE digest = '${digest}';
             SET session_replication_role = origin`);

/** Three small layers pushed to `app` through `server`, one after another: their digests. */
async function pushThree(server: Registry): Promise<[Digest, Digest, Digest]> {
  return [
    await push(server, 'app', Buffer.from('layer one')),
    await push(server, 'app', Buffer.from('layer two')),
    await push(server, 'app', Buffer.from('layer three')),
  ];
}

describe('the blob link cache across replicas on PostgreSQL', { skip: url ? false : POSTGRES_SKIP }, () => {
  test('a HEAD is answered from the cache, and a DELETE or an SQL DELETE on the other side reaches it', async () => {
    const { a, b, feedOfA, sql, close } = await replicas();
    try {
      const [one, two, three] = await pushThree(b);
      await head(a, 'app', one);
      await listening(feedOfA);
      assert.equal(await head(a, 'app', one), 9, 'read and cached');
      // Proof the next answer comes from the cache: the link goes without a notification, A still answers.
      await unlinkSilently(sql, one);
      assert.equal(await head(a, 'app', one), 9, 'cached: PostgreSQL was not asked');
      assert.equal(await head(b, 'app', one), 'BLOB_UNKNOWN', 'B had not cached it');

      assert.equal(await head(a, 'app', two), 9);
      await b.deleteBlob('app', two);
      const took = await within(BOUND_MS, 'BLOB_UNKNOWN', () => head(a, 'app', two));
      assert.ok(took < BOUND_MS, `DELETE on B seen by A after ${took} ms`);

      assert.equal(await head(a, 'app', three), 11);
      await sql.query('DELETE FROM repository_blobs WHERE digest = $1', [three]);
      await within(BOUND_MS, 'BLOB_UNKNOWN', () => head(a, 'app', three));
    } finally {
      await close();
    }
  });

  test('a GC on the other replica evicts what it collects; a delete on the same replica is seen at once', async () => {
    const { a, b, clock, feedOfA, close } = await replicas();
    try {
      const idle = await push(a, 'app', Buffer.from('idle layer'));
      const mine = await push(a, 'app', Buffer.from('deleted here'));
      await head(a, 'app', idle);
      await listening(feedOfA);
      assert.equal(await head(a, 'app', idle), 10);
      assert.equal(await head(a, 'app', mine), 12);
      await a.deleteBlob('app', mine);
      assert.equal(await head(a, 'app', mine), 'BLOB_UNKNOWN', 'no wait on the replica that deleted');

      await a.flushTouches();
      clock.advance(2 * GRACE + 2000); // past the upload's lease and the HEAD's touch
      const gc = await b.collectGarbage();
      assert.ok(
        gc.blobs.some((x) => x.digest === idle),
        'B collected the idle blob',
      );
      await within(BOUND_MS, 'BLOB_UNKNOWN', () => head(a, 'app', idle));
    } finally {
      await close();
    }
  });

  test('a lost LISTEN connection turns the cache off until it is back', async () => {
    // The first reconnection waits 3 s: long enough for the checks made while the connection is down.
    const { a, b, feedOfA, sql, close } = await replicas({ retryFirstMs: 3000, retryMaxMs: 3000 });
    try {
      const [one, two, three] = await pushThree(b);
      await head(a, 'app', one);
      await listening(feedOfA);
      assert.equal(await head(a, 'app', one), 9);
      const pid = feedOfA.backendPid;
      assert.ok(pid, 'the LISTEN connection has a server process');
      await sql.query('SELECT pg_terminate_backend($1)', [pid]);
      await listening(feedOfA, false);
      // Down: what was cached is gone and nothing new is kept, so removals the feed cannot report are seen at once.
      await unlinkSilently(sql, one);
      assert.equal(await head(a, 'app', one), 'BLOB_UNKNOWN', 'the cached link was dropped with the connection');
      assert.equal(await head(a, 'app', two), 9);
      await unlinkSilently(sql, two);
      assert.equal(await head(a, 'app', two), 'BLOB_UNKNOWN', 'bypassed while the connection is down');
      assert.equal(feedOfA.listening, false, 'the checks above ran while it was down');
      // It comes back by itself, and the cache with it (notifications included).
      await listening(feedOfA, true, 10_000);
      assert.notEqual(feedOfA.backendPid, pid);
      assert.equal(await head(a, 'app', three), 11);
      await unlinkSilently(sql, three);
      assert.equal(await head(a, 'app', three), 11, 'cached again');
      await sql.query(
        `INSERT INTO repository_blobs (repo_id, digest, created_at)
                       SELECT id, $1, 0 FROM repositories WHERE name = 'app'`,
        [three],
      );
      await b.deleteBlob('app', three);
      await within(BOUND_MS, 'BLOB_UNKNOWN', () => head(a, 'app', three));
    } finally {
      await close();
    }
  });

  test('a LISTEN connection that stops answering counts as lost after the heartbeat', async (t) => {
    const { a, b, feedOfA, close } = await replicas({ heartbeatMs: 200, deadMs: 600, retryFirstMs: 100 });
    let stopped: number | undefined;
    try {
      const digest = await push(b, 'app', Buffer.from('layer'));
      await head(a, 'app', digest);
      await listening(feedOfA);
      assert.equal(await head(a, 'app', digest), 5);
      const pid = feedOfA.backendPid!;
      // A silent network, played by freezing the server process of A's LISTEN connection (same machine only).
      try {
        process.kill(pid, 'SIGSTOP');
        stopped = pid;
      } catch (e) {
        t.skip(`cannot stop PostgreSQL's process ${pid} from here (${(e as Error).message})`);
        return;
      }
      const t0 = Date.now();
      await listening(feedOfA, false, 5000);
      const took = Date.now() - t0;
      assert.ok(took >= 200, `lost after ${took} ms, not before the dead time`);
      process.kill(pid, 'SIGCONT');
      stopped = undefined;
      await b.deleteBlob('app', digest);
      assert.equal(await head(a, 'app', digest), 'BLOB_UNKNOWN');
      await listening(feedOfA);
      assert.notEqual(feedOfA.backendPid, pid, 'a new connection');
    } finally {
      if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
      await close();
    }
  });

  test('two servers (metrics on): a blob HEAD on one answers 404 soon after a DELETE through the other', async () => {
    const { schema, drop } = await freshSchema(url!);
    const config = {
      metadata: { driver: 'postgres' as const, postgres: { url: url!, schema } },
      delete: { enabled: true },
      metrics: { enabled: true },
    };
    let one: TestServer | undefined;
    let two: TestServer | undefined;
    try {
      one = await startTestServer(config);
      two = await startTestServer(config);
      const digest = await pushBlob(one, 'app', Buffer.from('a layer pushed to one'));
      // PostgreSQL reads of links, from one's /metrics: once its LISTEN connection is up, HEADs make none.
      const reads = async () => {
        const text = (await one!.req('GET', '/metrics')).body.toString();
        const line =
          /^kura_metadata_operation_duration_seconds_count\{[^}]*role="blobs",operation="get"[^}]*\} (\d+)$/m;
        return Number(line.exec(text)?.[1] ?? 0);
      };
      const fiveHeads = async () => {
        const before = await reads();
        for (let i = 0; i < 5; i++) assert.equal((await one!.req('HEAD', `/v2/app/blobs/${digest}`)).status, 200);
        return (await reads()) - before;
      };
      await within(BOUND_MS, 0, fiveHeads);
      assert.equal((await two.req('DELETE', `/v2/app/blobs/${digest}`)).status, 202);
      await within(BOUND_MS, 404, async () => (await one!.req('HEAD', `/v2/app/blobs/${digest}`)).status);
    } finally {
      await one?.close();
      await two?.close();
      await drop();
    }
  });
});
