// Schema upgrades: a database left at each earlier migration, with rows in it, opened by this build.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { digestOf } from '../oci/digest.js';
import { tempDirs } from '../test/tempdirs.js';
import { migrations } from './migrations.js';
import { SqliteMetadataStore } from './sqlite/index.js';

const tmp = tempDirs('kura-sqlite-upgrade-');
const IMAGE = 'application/vnd.oci.image.manifest.v1+json';
const T = 1_700_000_000_000;
const config = digestOf('config');
const layer = digestOf('layer');
const manifest = digestOf('manifest');

/** A database migrated to `version` only, as a build of that time left it, with rows written by raw SQL. */
function oldDatabase(file: string, version: number): void {
  const db = new Database(file);
  try {
    db.exec(`CREATE TABLE schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    for (const m of migrations.filter((x) => x.version <= version)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        T,
      );
    }
    const run = (sql: string, ...args: unknown[]) => db.prepare(sql).run(...args);
    run('INSERT INTO repositories (id, name, created_at) VALUES (1, ?, ?)', 'team/app', T);
    for (const [d, size] of [
      [config, 2],
      [layer, 100],
      [manifest, 300],
    ] as const) {
      run(
        'INSERT INTO blobs (digest, size, state, leased_until, created_at) VALUES (?, ?, ?, NULL, ?)',
        d,
        size,
        'live',
        T,
      );
      run('INSERT INTO repository_blobs (repo_id, digest, created_at) VALUES (1, ?, ?)', d, T);
    }
    run(
      `INSERT INTO manifests (repo_id, digest, media_type, size, artifact_type, subject, annotations, created_at)
       VALUES (1, ?, ?, 300, ?, NULL, ?, ?)`,
      manifest,
      IMAGE,
      'application/vnd.oci.image.config.v1+json',
      JSON.stringify({ 'org.example': 'kept' }),
      T,
    );
    for (const [d, kind] of [
      [config, 'blob'],
      [layer, 'blob'],
    ])
      run(
        'INSERT INTO manifest_refs (repo_id, manifest_digest, ref_digest, kind) VALUES (1, ?, ?, ?)',
        manifest,
        d,
        kind,
      );
    run('INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (1, ?, ?, ?)', 'v1', manifest, T);
    run(
      'INSERT INTO uploads (id, repo, "offset", created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      'up-1',
      'team/app',
      5,
      T,
      T,
    );
    if (version >= 4)
      run(
        `INSERT INTO audit_log (at, actor, address, action, repository, reference, status)
         VALUES (?, 'alice', '127.0.0.1', 'push', 'team/app', 'v1', 201)`,
        T,
      );
    if (version >= 5)
      run(
        `INSERT INTO accounts (name, kind, password_hash, grants, created_at, expires_at)
         VALUES ('ci', 'robot', '$2b$04$hash', ?, ?, NULL)`,
        JSON.stringify({ repositories: ['team/*'], actions: ['pull'] }),
        T,
      );
  } finally {
    db.close();
  }
}

const current = migrations[migrations.length - 1]!.version;

for (const { version } of migrations.filter((m) => m.version < current)) {
  test(`a database at migration ${version} is upgraded to ${current} with its rows intact and usable`, async () => {
    const file = join(tmp(), 'meta.db');
    oldDatabase(file, version);
    const store = SqliteMetadataStore.open(file, { now: () => T + 1000 });
    try {
      // Every later migration applied, once.
      const applied = new Database(file, { readonly: true })
        .prepare<[], number>('SELECT version FROM schema_migrations ORDER BY version')
        .pluck();
      assert.deepEqual(
        applied.all(),
        migrations.map((m) => m.version),
      );
      // The rows survived.
      const rec = {
        repo: 'team/app',
        digest: manifest,
        mediaType: IMAGE,
        size: 300,
        artifactType: 'application/vnd.oci.image.config.v1+json',
        subject: null,
        annotations: { 'org.example': 'kept' },
        createdAt: T,
      };
      assert.deepEqual(await store.manifests.get('team/app', manifest), rec);
      assert.deepEqual(await store.manifests.resolveTag('team/app', 'v1'), rec);
      assert.deepEqual(await store.manifests.listTags('team/app', {}), ['v1']);
      assert.deepEqual(await store.manifests.listRepositories({}), ['team/app']);
      assert.equal(await store.blobs.get('team/app', layer), 100);
      const upload = await store.uploads.get('up-1');
      assert.deepEqual(upload, { id: 'up-1', repo: 'team/app', offset: 5, createdAt: T, updatedAt: T, owner: null });
      if (version >= 4) assert.equal((await store.audit.list({ limit: 100 })).length, 1);
      if (version >= 5) assert.deepEqual((await store.accounts.get('ci'))?.grants?.repositories, ['team/*']);
      // Tags of older builds got their sort keys at start (migration 11).
      const keys = new Database(file, { readonly: true })
        .prepare<[], { n: string; s: string }>("SELECT natural_key AS n, semver_key AS s FROM tags WHERE name = 'v1'")
        .get();
      assert.deepEqual(keys, { n: 'v011', s: '1011.010.010~' });
      // …and are usable with the columns and tables the later migrations added.
      await store.manifests.recordPulls([{ repo: 'team/app', digest: manifest, at: T + 500 }]);
      const snap = await store.manifests.snapshot('team/app');
      assert.equal(snap?.manifests[0]?.pulledAt, T + 500);
      const next = { ...rec, digest: digestOf('manifest 2'), annotations: null };
      assert.deepEqual(await store.manifests.put(next, { blobs: [config, layer], manifests: [] }, ['v2']), {
        missing: [],
      });
      assert.deepEqual(await store.manifests.listTags('team/app', {}), ['v1', 'v2']);
      assert.equal(await store.manifests.deleteTag('team/app', 'v1'), true);
      assert.equal(await store.manifests.delete('team/app', manifest), true);
      assert.deepEqual(await store.manifests.listTags('team/app', {}), ['v2']);
      assert.deepEqual(await store.blobs.repositories(layer, 10), ['team/app']);
      await store.uploads.create({ id: 'up-2', repo: 'team/app', offset: 0, createdAt: T, updatedAt: T, owner: 'bob' });
      assert.equal((await store.uploads.get('up-2'))?.owner, 'bob');
      await store.audit.append([
        {
          at: T + 1,
          actor: null,
          address: '::1',
          action: 'pull',
          repository: 'team/app',
          reference: 'v2',
          status: 200,
        },
      ]);
      assert.equal((await store.audit.list({ limit: 100 })).length, version >= 4 ? 2 : 1);
    } finally {
      await store.close();
    }
  });
}
