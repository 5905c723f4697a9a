// PostgreSQL's optional trigram index on tag names (postgres/trigram.ts): the substring filter uses it when present,
// gives the same pages without it, and a role that may not create pg_trgm still gets a working store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { digestOf } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { PgMetadataStore } from './postgres/index.js';
import { positional, tagPageParams, tagPageSql } from './tag-page-sql.js';
import type { TagPageQuery } from './tag-keys.js';
import type { MetadataStore } from './types.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';

const url = await postgresUrl();
const NAMES = ['999', 'a999b', 'v1.9.99', 'x_y', 'xay', 'x__y', 'build-1999', 'latest'];

/** One manifest per tag in NAMES (repository `app`). */
async function seed(store: MetadataStore): Promise<void> {
  for (const [i, tag] of NAMES.entries()) {
    const config = digestOf(`trgm config ${i}`);
    await store.blobs.add('app', config, 10);
    const rec = { repo: 'app', digest: digestOf(`trgm manifest ${i}`), mediaType: MediaTypes.OciManifest, size: 9 };
    const more = { artifactType: null, subject: null, annotations: null, createdAt: 1_000 + i };
    await store.manifests.put({ ...rec, ...more }, { blobs: [config], manifests: [] }, [tag]);
  }
}

/** The tag names and match count of the first page for each filter. */
async function pages(store: MetadataStore): Promise<unknown[]> {
  const out = [];
  for (const q of ['999', '_', 'x_y', '%', '\\', 'a9', 'build-1*']) {
    const page = await store.manifests.tagPage('app', { q, sort: 'natural', after: null, limit: 100 });
    out.push({ q, names: page!.tags.map((r) => r.name), matched: page!.matched });
  }
  return out;
}

const indexed = async (store: PgMetadataStore, schema: string) =>
  (await store.db.rows('SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, 'tags_name_trgm']))
    .length === 1;

if (url === null) {
  test('PostgreSQL trigram index', { skip: POSTGRES_SKIP }, () => {});
} else {
  test('the substring filter reads the trigram index, and pages are the same without it', async (t) => {
    const { schema, drop } = await freshSchema(url);
    const store = await PgMetadataStore.open({ url, schema, poolSize: 2 });
    try {
      assert.ok(await indexed(store, schema), 'the store created tags_name_trgm');
      await seed(store);
      const want = [
        { q: '999', names: ['999', 'a999b', 'build-1999'], matched: 3 },
        { q: '_', names: ['x__y', 'x_y'], matched: 2 },
        { q: 'x_y', names: ['x_y'], matched: 1 },
        { q: '%', names: [], matched: 0 },
        { q: '\\', names: [], matched: 0 },
        { q: 'a9', names: ['a999b'], matched: 1 },
        { q: 'build-1*', names: ['build-1999'], matched: 1 },
      ];
      assert.deepEqual(await pages(store), want, 'LIKE wildcards in the text are matched literally');
      // 50,000 more tags on one manifest (written as SQL: keys NULL), so the planner prefers the index where it can.
      await store.db.run(
        `INSERT INTO tags (repo_id, name, digest, updated_at)
         SELECT repo_id, 'bulk-' || g, digest, 1 FROM tags, generate_series(1, 50000) g WHERE name = 'latest'`,
      );
      await store.db.run('ANALYZE tags');
      const big = await pages(store);
      const q: TagPageQuery = { q: '999', sort: 'natural', after: null, limit: 100 };
      const { shape, params } = tagPageParams('postgres', 'app', q);
      const { text, values } = positional(tagPageSql('postgres', shape), params);
      const explain = (sql: string, v: unknown[]) =>
        store.db.tx(async (c) => {
          await c.run('SET LOCAL enable_seqscan = off');
          return (await c.rows<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, v)).map((r) => r['QUERY PLAN']).join('\n');
        }, 'read');
      // The filter is the LIKE the index serves (a strpos would not be), on the page and on its count; the
      // planner's pick between this index and the order's depends on statistics (100,000 tags: docs/benchmarks.md).
      const plan = await explain(text, values);
      assert.ok((plan.match(/name ~~ '%999%'::text/g) ?? []).length >= 2, plan);
      assert.doesNotMatch(plan, /strpos/);
      const alone = await explain('SELECT name FROM tags WHERE name LIKE $1', ['%999%']);
      assert.match(alone, /Bitmap Index Scan on tags_name_trgm/, alone);
      t.diagnostic(`page plan uses the trigram index: ${/tags_name_trgm/.test(plan)}`);
      await store.db.run('DROP INDEX tags_name_trgm');
      assert.equal(await indexed(store, schema), false);
      assert.deepEqual(await pages(store), big, 'the same pages without the index');
    } finally {
      await store.close();
      await drop();
    }
  });

  test('a role that may not create pg_trgm gets a working store without the index, and one warning', async (t) => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const su = await admin.query<{ s: boolean }>('SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user');
    if (!su.rows[0]?.s) {
      await admin.end();
      return t.skip('the test server role is no superuser: it cannot make a role and a database');
    }
    const name = `kura_notrgm_${process.pid}`;
    const other = new URL(url);
    other.pathname = `/${name}`;
    await admin.query(`CREATE ROLE ${name} LOGIN`);
    await admin.query(`CREATE DATABASE ${name}`);
    // The role owns schema public (its tables go there) but lacks CREATE on the database, which pg_trgm needs.
    const inDb = new pg.Client({ connectionString: other.href });
    await inDb.connect();
    await inDb.query(`ALTER SCHEMA public OWNER TO ${name}`);
    await inDb.end();
    other.username = name;
    const warnings: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (String(chunk).includes('trigram')) warnings.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    let store: PgMetadataStore | undefined;
    try {
      store = await PgMetadataStore.open({ url: other.href, poolSize: 2 });
      assert.equal(await indexed(store, 'public'), false);
      assert.equal(warnings.length, 1, 'one warning');
      assert.match(warnings[0]!, /^kura: warning: PostgreSQL: no trigram index .*permission denied/);
      await seed(store);
      const page = await store.manifests.tagPage('app', { q: '999', sort: 'natural', after: null, limit: 100 });
      assert.deepEqual(
        page!.tags.map((r) => r.name),
        ['999', 'a999b', 'build-1999'],
      );
    } finally {
      process.stderr.write = write;
      await store?.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${name}`);
      await admin.end();
    }
  });
}
