/**
 * Locks and counters across replicas on PostgreSQL: named session advisory locks on one connection of their
 * own (so a held lock never takes a pool connection), and fixed-window counters in `rate_counters`.
 */
import pg from 'pg';
import type { SharedCounters, SharedLocks } from '../types.js';
import type { Db } from './db.js';

/** Longest a lock is waited for before the operation fails (a holder that hangs must not hang everyone). */
const WAIT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `pg_try_advisory_lock` on a 64-bit hash of schema + name, polled with a short backoff: one connection can
 * hold any number of locks at once and none of its queries ever blocks, so one connection serves every caller
 * in the process (the caller serialises a name within the process first: see SharedKeyedLock). When that
 * connection dies the server drops its locks; the next call opens a new one.
 */
export class PgLocks implements SharedLocks {
  private client: Promise<pg.Client> | null = null;
  private closed = false;

  constructor(private readonly db: Db) {}

  private connection(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('the metadata store is closed'));
    this.client ??= (async () => {
      const c = new pg.Client(this.db.pool.options);
      c.on('error', () => (this.client = null));
      c.on('end', () => (this.client = null));
      await c.connect();
      return c;
    })().catch((e: unknown) => {
      this.client = null;
      throw e;
    });
    return this.client;
  }

  private async query(sql: string, name: string): Promise<boolean> {
    const c = await this.connection();
    try {
      return (await c.query<{ ok: boolean }>(sql, [name])).rows[0]!.ok;
    } catch (e) {
      // A connection that failed mid-query may hold locks nobody will release: end it, the server drops them.
      this.client = null;
      await c.end().catch(() => {});
      throw e;
    }
  }

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const name = `kura lock ${key}`;
    const take = `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || ' ' || $1, 0)) AS ok`;
    const end = Date.now() + WAIT_MS;
    for (let wait = 1; !(await this.query(take, name)); wait = Math.min(wait * 2, 50)) {
      if (Date.now() > end) throw new Error(`timed out waiting ${WAIT_MS / 1000}s for the replica lock "${key}"`);
      await sleep(wait);
    }
    try {
      return await fn();
    } finally {
      await this.query(
        `SELECT pg_advisory_unlock(hashtextextended(current_schema() || ' ' || $1, 0)) AS ok`,
        name,
      ).catch(() => {});
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = null;
    if (c) await (await c.catch(() => null))?.end().catch(() => {});
  }
}

/** Fixed windows counted in one upsert each: the count never passes the limit, whichever replica counts. */
export class PgCounters implements SharedCounters {
  private prunedAt = 0;

  constructor(private readonly db: Db) {}

  async hit(key: string, windowStart: number, windowMs: number, limit: number): Promise<number | null> {
    const now = this.db.now();
    if (now - this.prunedAt > 60_000) {
      this.prunedAt = now;
      await this.db.run('DELETE FROM rate_counters WHERE expires_at < $1', [now]);
    }
    const row = await this.db.one<{ count: number }>(
      `INSERT INTO rate_counters (key, window_start, count, expires_at) VALUES ($1, $2, 1, $3)
       ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
       WHERE rate_counters.count < $4 RETURNING count`,
      [key, windowStart, windowStart + windowMs, limit],
    );
    return row?.count ?? null;
  }

  async peek(key: string, windowStart: number): Promise<number> {
    const row = await this.db.one<{ count: number }>(
      'SELECT count FROM rate_counters WHERE key = $1 AND window_start = $2',
      [key, windowStart],
    );
    return row?.count ?? 0;
  }
}
