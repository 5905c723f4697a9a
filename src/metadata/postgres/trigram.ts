// PostgreSQL only, optional: pg_trgm and a trigram index on tag names, for the tags page's substring filter.
import type pg from 'pg';

/**
 * The index lets `name LIKE '%999%'` (the tags page's substring filter, and its count) read the matching tags
 * instead of every tag of the repository. Not a numbered migration: creating an extension may need rights the
 * role lacks, and a later start with them should still get the index, so every start tries it (IF NOT EXISTS:
 * a no-op once done).
 */
const CREATE_EXTENSION = 'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public';
const WHERE = `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'pg_trgm'`;
/** The index, with the operator class named in the extension's schema (a store's own schema may not see it). */
export const trigramIndexSql = (schema: string): string =>
  `CREATE INDEX IF NOT EXISTS tags_name_trgm ON tags USING gin (name "${schema.replace(/"/g, '""')}".gin_trgm_ops)`;

let warned = false;

/**
 * Creates the extension (in schema public, shared by every store's schema, unless it exists already anywhere)
 * and the index, inside the migration transaction under a savepoint: when the role may not create the
 * extension (or it is not installed) the savepoint is rolled back, a warning is printed once per process, and the
 * store works without the index (the same statements, reading the tags instead). True when the index exists.
 */
export async function ensureTrigramIndex(client: pg.PoolClient): Promise<boolean> {
  await client.query('SAVEPOINT kura_trigram');
  try {
    // Stores of several schemas in one database may start together: one of them creates the extension.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['kura pg_trgm']);
    let found = await client.query<{ schema: string }>(WHERE);
    if (found.rows.length === 0) {
      await client.query(CREATE_EXTENSION);
      found = await client.query<{ schema: string }>(WHERE);
    }
    await client.query(trigramIndexSql(found.rows[0]!.schema));
    await client.query('RELEASE SAVEPOINT kura_trigram');
    return true;
  } catch (e) {
    await client.query('ROLLBACK TO SAVEPOINT kura_trigram');
    if (!warned) {
      warned = true;
      const why = e instanceof Error ? e.message : String(e);
      process.stderr.write(
        `kura: warning: PostgreSQL: no trigram index on tag names (${why}); the tags page's substring filter ` +
          `reads every tag of a repository: run "CREATE EXTENSION pg_trgm" as a role that may, then restart\n`,
      );
    }
    return false;
  }
}
