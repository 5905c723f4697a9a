// Metadata conformance against PostgreSQL (a fresh schema per test), and what only it does: migrations under a lock.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../oci/digest.js';
import { runMetadataConformance } from './conformance/index.js';
import { migrations } from './migrations.js';
import { PgMetadataStore } from './postgres/index.js';
import { pgMigrationSql } from './postgres/db.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';

const url = await postgresUrl();
const layer = digestOf('layer');

if (url === null) {
  test('PostgreSQL metadata store', { skip: POSTGRES_SKIP }, () => {});
} else {
  runMetadataConformance('postgres', async () => {
    const { schema, drop } = await freshSchema(url);
    const store = await PgMetadataStore.open({ url, schema, poolSize: 4 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await drop();
      },
    };
  });

  describe('PgMetadataStore', () => {
    test('replicas starting together apply each migration once; data survives reopen', async () => {
      const { schema, drop } = await freshSchema(url);
      try {
        const stores = await Promise.all([1, 2, 3].map(() => PgMetadataStore.open({ url, schema, poolSize: 2 })));
        await stores[0]!.blobs.add('app', layer, 7);
        await Promise.all(stores.map((s) => s.close()));
        const again = await PgMetadataStore.open({ url, schema, poolSize: 1 });
        try {
          const rows = await again.db.rows<{ version: number }>(
            'SELECT version FROM schema_migrations ORDER BY version',
          );
          assert.deepEqual(
            rows.map((r) => r.version),
            migrations.map((m) => m.version),
          );
          assert.equal(await again.blobs.get('app', layer), 7);
        } finally {
          await again.close();
        }
      } finally {
        await drop();
      }
    });

    test('refuses a database migrated by a newer build', async () => {
      const { schema, drop } = await freshSchema(url);
      try {
        const s = await PgMetadataStore.open({ url, schema, poolSize: 1 });
        await s.db.run(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`);
        await s.close();
        await assert.rejects(PgMetadataStore.open({ url, schema, poolSize: 1 }), /newer than this build/);
      } finally {
        await drop();
      }
    });

    test('names sort bytewise (COLLATE "C") whatever the database locale', async () => {
      const { schema, drop } = await freshSchema(url);
      const s = await PgMetadataStore.open({ url, schema, poolSize: 1 });
      try {
        const info = await s.db.rows<{ table_name: string; collation_name: string | null }>(
          `SELECT table_name, collation_name FROM information_schema.columns
           WHERE table_schema = $1 AND column_name = 'name' AND table_name IN ('tags', 'repositories')
           ORDER BY table_name`,
          [schema],
        );
        assert.deepEqual(
          info.map((r) => [r.table_name, r.collation_name]),
          [
            ['repositories', 'C'],
            ['tags', 'C'],
          ],
        );
      } finally {
        await s.close();
        await drop();
      }
    });

    test('tag sort keys are bytewise (COLLATE "C"); tags without keys (older builds) get them at start', async () => {
      const { schema, drop } = await freshSchema(url);
      try {
        const s = await PgMetadataStore.open({ url, schema, poolSize: 1 });
        const keys = await s.db.rows<{ column_name: string; collation_name: string | null }>(
          `SELECT column_name, collation_name FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'tags' AND column_name LIKE '%_key' ORDER BY column_name`,
          [schema],
        );
        assert.deepEqual(
          keys.map((r) => [r.column_name, r.collation_name]),
          [
            ['natural_key', 'C'],
            ['semver_key', 'C'],
          ],
        );
        const rec = { repo: 'app', digest: layer, mediaType: 'application/vnd.oci.image.manifest.v1+json' };
        const put = { ...rec, size: 2, artifactType: null, subject: null, annotations: null, createdAt: 1 };
        await s.manifests.put(put, { blobs: [], manifests: [] }, ['v10', 'v9', 'latest']);
        await s.db.run('UPDATE tags SET natural_key = NULL, semver_key = NULL');
        await s.close();
        const again = await PgMetadataStore.open({ url, schema, poolSize: 1 });
        try {
          const rows = await again.db.rows<{ name: string; n: string; v: string }>(
            'SELECT name, natural_key AS n, semver_key AS v FROM tags ORDER BY name',
          );
          assert.deepEqual(
            rows.map((r) => [r.name, r.n, r.v]),
            [
              ['latest', 'latest', '2latest'],
              ['v10', 'v0210', '10210.010.010~'],
              ['v9', 'v019', '1019.010.010~'],
            ],
          );
          const page = await again.manifests.tagPage('app', { sort: 'natural', after: null, limit: 5, q: '' });
          assert.deepEqual(
            page?.tags.map((t) => t.name),
            ['latest', 'v9', 'v10'],
          );
        } finally {
          await again.close();
        }
      } finally {
        await drop();
      }
    });

    test('statement_timeout from the options reaches every connection and stops a long query', async () => {
      const { schema, drop } = await freshSchema(url);
      const s = await PgMetadataStore.open({ url, schema, poolSize: 2, statementTimeoutMs: 200 });
      try {
        const row = await s.db.one<{ statement_timeout: string }>('SHOW statement_timeout');
        assert.equal(row!.statement_timeout, '200ms');
        await assert.rejects(s.db.run('SELECT pg_sleep(2)'), /statement timeout/);
      } finally {
        await s.close();
        await drop();
      }
    });

    test('the shared migrations translate to PostgreSQL types', () => {
      const sql = migrations.map((m) => pgMigrationSql(m.sql)).join('\n');
      assert.doesNotMatch(sql, /INTEGER PRIMARY KEY/);
      assert.match(sql, /id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY/);
      assert.match(sql, /name TEXT COLLATE "C" NOT NULL UNIQUE/);
    });
  });
}
