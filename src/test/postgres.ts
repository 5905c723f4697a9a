/**
 * Test helper (not a test): a PostgreSQL server for one test file, and a fresh schema per store.
 * KURA_TEST_POSTGRES_URL names a running server (CI: `.ci/run` starts one); when it is unset and this
 * process is root with PostgreSQL 15 installed, a throw-away cluster is started with
 * scripts/services/start-postgres.sh on a free loopback port and stopped when the file's tests end.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const START_SCRIPT = join(ROOT, 'scripts/services/start-postgres.sh');

export const POSTGRES_SKIP =
  'no PostgreSQL: set KURA_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/DB, or run as root with postgresql-15 installed';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const port = (srv.address() as { port: number }).port;
  await new Promise((ok) => srv.close(ok));
  return port;
}

let server: Promise<string | null> | undefined;

/** The server's URL, or null when there is none (the caller skips with POSTGRES_SKIP); stopped after the file. */
export function postgresUrl(): Promise<string | null> {
  server ??= (async () => {
    const given = process.env.KURA_TEST_POSTGRES_URL;
    if (given) return given;
    if (process.getuid?.() !== 0 || !existsSync(join(PG_BIN, 'initdb')) || !existsSync(START_SCRIPT)) return null;
    const port = await freePort();
    const { stdout } = await promisify(execFile)('bash', [START_SCRIPT], {
      env: { ...process.env, PGPORT: String(port), PG_DB: 'kura_test', NO_INSTALL: '1' },
    });
    const dir = /^export PG_DIR=(.+)$/m.exec(stdout)?.[1];
    if (!dir) throw new Error(`start-postgres.sh printed no PG_DIR: ${stdout}`);
    after(async () => {
      await promisify(execFile)(join(dir, 'stop.sh'));
    });
    return `postgres://postgres@127.0.0.1:${port}/kura_test`;
  })();
  return server;
}

let counter = 0;

/** A new empty schema name on the server and a function that drops it (and everything in it). */
export async function freshSchema(url: string): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `kura_t${process.pid}_${++counter}_${Date.now() % 100000}`;
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
