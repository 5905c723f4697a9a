// The PostgreSQL pool every metadata table shares: connecting, migrations, transactions with retry, repository ids.
import pg from 'pg';
import { migrations } from '../migrations.js';
import { BLOB_GONE_TRIGGER_SQL, type FeedTiming } from './notify.js';
import { ensureTrigramIndex } from './trigram.js';

/** How to reach the database; anything left out comes from the standard PG* environment variables. */
export interface PgOptions {
  /** postgres://user:password@host:port/db; when absent, `pg` reads PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. */
  url?: string;
  /** Connections in the pool. */
  poolSize?: number;
  /** Server-side statement_timeout of every connection, in ms (0 = none). */
  statementTimeoutMs?: number;
  /** Schema holding the tables (created if needed); default: the server's search_path (normally `public`). */
  schema?: string;
  /** The clock rows are stamped with: Date.now unless a test injects one. */
  now?: () => number;
  /** The LISTEN connection's heartbeat and reconnection pauses (notify.ts); tests shorten or lengthen them. */
  listenTiming?: Partial<FeedTiming>;
}

/** Something to run SQL on: the pool (one statement, autocommit) or one transaction's client. */
export interface Sql {
  rows<R>(text: string, values?: unknown[]): Promise<R[]>;
  one<R>(text: string, values?: unknown[]): Promise<R | undefined>;
  /** Runs a statement; resolves to the number of rows it touched. */
  run(text: string, values?: unknown[]): Promise<number>;
}

/** SQLSTATEs after which a whole transaction is retried: serialization failure, deadlock. */
const RETRY_CODES = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 8;
/** A schema name is an identifier we quote ourselves, so keep it to a safe alphabet. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

// COUNT and BIGINT columns (int8) and SUM (numeric) as plain numbers: sizes and ms timestamps fit in 2^53.
const toNumber = (v: string): number => Number(v);
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return toNumber;
    return pg.types.getTypeParser(oid, format);
  },
};

/** The shared migrations, in PostgreSQL's dialect (src/metadata/README.md, "PostgreSQL translation"). */
export function pgMigrationSql(sql: string): string {
  return sql
    .split('\n')
    .map((line) => {
      if (line.includes('-- PostgreSQL: COLLATE "C"')) return line.replace(/ TEXT /, ' TEXT COLLATE "C" ');
      return line.replace(/\bINTEGER PRIMARY KEY\b/, 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY');
    })
    .join('\n');
}

function wrap(q: { query: pg.Pool['query'] | pg.PoolClient['query'] }): Sql {
  const query = (text: string, values?: unknown[]) => (q.query as pg.Pool['query'])(text, values);
  return {
    async rows<R>(text: string, values?: unknown[]): Promise<R[]> {
      return (await query(text, values)).rows as R[];
    },
    async one<R>(text: string, values?: unknown[]): Promise<R | undefined> {
      return (await query(text, values)).rows[0] as R | undefined;
    },
    async run(text: string, values?: unknown[]): Promise<number> {
      return (await query(text, values)).rowCount ?? 0;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Applies pending migrations in one transaction under an advisory lock: replicas starting together apply them once. */
async function migrate(pool: pg.Pool, schema: string | undefined, now: () => number): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kura migrations ${schema ?? ''}`]);
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
    const newest = Math.max(0, ...done);
    if (newest > known) {
      // An older build must not write to a schema it does not understand.
      throw new Error(`metadata database schema version ${newest} is newer than this build supports (${known})`);
    }
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(pgMigrationSql(m.sql));
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        now(),
      ]);
    }
    await client.query(BLOB_GONE_TRIGGER_SQL);
    await ensureTrigramIndex(client);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/**
 * One migrated database behind a connection pool. A method of one statement runs on the pool
 * (autocommit); work of several statements runs in `tx`, which retries the whole function on a
 * serialization failure or deadlock, so the function must have no effects outside the database.
 */
export class Db implements Sql {
  private readonly sql: Sql;

  private constructor(
    readonly pool: pg.Pool,
    readonly now: () => number,
    /** How the pool connects: a connection of its own (the LISTEN one, notify.ts) is opened the same way. */
    readonly config: pg.PoolConfig,
    /** The schema given (PgOptions.schema), if any. */
    readonly schema: string | undefined,
  ) {
    this.sql = wrap(pool);
  }

  static async open(opts: PgOptions = {}): Promise<Db> {
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
      throw new Error(`invalid PostgreSQL schema name "${opts.schema}" (use lower-case letters, digits and _)`);
    }
    const config: pg.PoolConfig = {
      max: opts.poolSize ?? 10,
      types,
      statement_timeout: opts.statementTimeoutMs ?? 30_000,
      connectionTimeoutMillis: 10_000,
      application_name: 'kura',
      ...(opts.url ? { connectionString: opts.url } : {}),
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    };
    const pool = new pg.Pool(config);
    // An idle client that loses its connection emits 'error' on the pool; without a listener that kills the process.
    pool.on('error', () => {});
    const now = opts.now ?? Date.now;
    try {
      await migrate(pool, opts.schema, now);
    } catch (e) {
      await pool.end();
      throw e;
    }
    return new Db(pool, now, config, opts.schema);
  }

  rows<R>(text: string, values?: unknown[]): Promise<R[]> {
    return this.sql.rows<R>(text, values);
  }

  one<R>(text: string, values?: unknown[]): Promise<R | undefined> {
    return this.sql.one<R>(text, values);
  }

  run(text: string, values?: unknown[]): Promise<number> {
    return this.sql.run(text, values);
  }

  /**
   * Runs `fn` in one transaction on one connection. `write` is READ COMMITTED: each statement sees
   * what committed before it started, and the writers take row locks (FOR SHARE / FOR UPDATE) on what
   * they check (src/metadata/README.md); `read` is a REPEATABLE READ snapshot, read-only.
   */
  async tx<T>(fn: (q: Sql) => Promise<T>, mode: 'write' | 'read' = 'write'): Promise<T> {
    const begin = mode === 'read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN';
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query(begin);
        const out = await fn(wrap(client));
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        const code = (e as { code?: string }).code;
        if (!code || !RETRY_CODES.has(code) || attempt >= MAX_ATTEMPTS) throw e;
      } finally {
        client.release(broken);
      }
      await sleep(Math.random() * 5 * attempt);
    }
  }

  /** The id of a repository, or undefined when it does not exist. */
  async repoId(q: Sql, name: string): Promise<number | undefined> {
    return (await q.one<{ id: number }>('SELECT id FROM repositories WHERE name = $1', [name]))?.id;
  }

  /** The id of a repository, creating it first if needed (a concurrent creator's row is reused). */
  async ensureRepo(q: Sql, name: string, now: number): Promise<number> {
    const made = await q.one<{ id: number }>(
      'INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id',
      [name, now],
    );
    return made?.id ?? (await this.repoId(q, name))!;
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
