// Metadata conformance against SQLite (a file and :memory:), and what only SQLite does: reopen, WAL, migrations.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { digestOf } from '../oci/digest.js';
import { runMetadataConformance } from './conformance/index.js';
import { migrations } from './migrations.js';
import { SqliteMetadataStore } from './sqlite/index.js';
import { tempDir as newTempDir } from '../test/tempdirs.js';

async function tempDir(): Promise<string> {
  return newTempDir('ocikura-sqlite-');
}

runMetadataConformance('sqlite', async () => {
  const dir = await tempDir();
  const store = SqliteMetadataStore.open(join(dir, 'meta.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

runMetadataConformance('sqlite :memory:', async () => {
  const store = SqliteMetadataStore.open(':memory:');
  return { store, cleanup: () => store.close() };
});

describe('SqliteMetadataStore', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function countMigrations(): number {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare<[], number>('SELECT count(*) FROM schema_migrations').pluck().get()!;
    } finally {
      db.close();
    }
  }

  test('data survives close and reopen; migrations are applied once', async () => {
    file = join(dir, 'reopen.db');
    const layer = digestOf('layer');
    const rec = {
      repo: 'app',
      digest: digestOf('manifest'),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 321,
      artifactType: 'application/vnd.example',
      subject: digestOf('subject'),
      annotations: { k: 'v' },
      createdAt: 1234,
    };
    const upload = { id: 'u', repo: 'app', offset: 5, createdAt: 1, updatedAt: 2, owner: 'user:alice' };

    const first = SqliteMetadataStore.open(file);
    await first.blobs.add('app', layer, 99);
    assert.deepEqual(await first.manifests.put(rec, { blobs: [layer], manifests: [] }, ['latest']), { missing: [] });
    await first.uploads.create(upload);
    await first.close();
    assert.equal(countMigrations(), migrations.length);

    const second = SqliteMetadataStore.open(file);
    try {
      assert.equal(countMigrations(), migrations.length);
      assert.equal(await second.blobs.get('app', layer), 99);
      assert.deepEqual(await second.manifests.resolveTag('app', 'latest'), rec);
      assert.deepEqual(await second.manifests.listReferrers('app', rec.subject), [rec]);
      assert.deepEqual(await second.uploads.get('u'), upload);
      assert.deepEqual(await second.manifests.listRepositories({}), ['app']);
    } finally {
      await second.close();
    }
  });

  test('the file is in WAL mode', async () => {
    file = join(dir, 'pragmas.db');
    await SqliteMetadataStore.open(file).close();
    const db = new Database(file);
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  test('refuses a database migrated by a newer build', async () => {
    file = join(dir, 'newer.db');
    await SqliteMetadataStore.open(file).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(9999, 'future', 0);
    db.close();
    assert.throws(() => SqliteMetadataStore.open(file), /newer than this build/);
  });

  test('migration versions are unique and ascending', () => {
    for (let i = 1; i < migrations.length; i++) {
      assert.ok(migrations[i]!.version > migrations[i - 1]!.version);
    }
    assert.ok(migrations.length > 0 && migrations[0]!.version >= 1);
  });

  test("two stores on one file see each other's writes", async () => {
    file = join(dir, 'shared.db');
    const a = SqliteMetadataStore.open(file);
    const b = SqliteMetadataStore.open(file);
    try {
      const d = digestOf('shared');
      await a.blobs.add('app', d, 3);
      assert.equal(await b.blobs.get('app', d), 3);
      assert.equal(await b.blobs.unlink('app', d), true);
      assert.equal(await a.blobs.get('app', d), null);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
