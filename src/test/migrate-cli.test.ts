// kura migrate: a registry on fs + SQLite copied to another data directory, and to S3 + PostgreSQL, and back;
// every tag served at its digest, every blob verified.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SqliteMetadataStore } from '../metadata/sqlite/index.js';
import { digestOf } from '../oci/digest.js';
import { randomImage, randomIndex } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/client.js';
import { kuraOk, runKura } from './helpers.js';
import { startKura } from './kura-process.js';
import { freshSchema, postgresUrl, POSTGRES_SKIP } from './postgres.js';
import { emptyPrefix, s3Service, type S3Service } from './s3-service.js';
import { tempDirs } from './tempdirs.js';

const tempDir = tempDirs('kura-migrate-');
// The S3 + PostgreSQL leg: the servers `.ci/run` starts (KURA_TEST_S3_*, KURA_TEST_POSTGRES_URL), or ones started here.
const s3 = await s3Service();
const pgUrl = await postgresUrl();
after(async () => {
  if (typeof s3 !== 'string') await s3.stop();
});
const remoteSkip = typeof s3 === 'string' ? s3 : pgUrl === null ? POSTGRES_SKIP : false;
if (remoteSkip && process.env.CI) throw new Error(`${remoteSkip}: CI must run the S3 + PostgreSQL migration`);

function configFor(data: string): string {
  const file = join(data, '..', `${data.split('/').pop()}.yml`);
  writeFileSync(file, `data: ${data}\nstorage:\n  driver: fs\nmetadata:\n  driver: sqlite\n`);
  return file;
}

/**
 * Every tag of `tags` resolves to its digest on a server over `data` (configured by `args`, e.g. --config), and
 * every layer of each image reads back whole.
 */
async function assertServes(data: string, tags: Map<string, string>, args: string[] = []): Promise<void> {
  const kura = await startKura({ dataDir: data, args });
  try {
    const client = new RegistryClient({ registry: kura.host });
    for (const [ref, digest] of tags) {
      const [repo, tag] = ref.split(':') as [string, string];
      const got = await client.repository(repo).get(tag);
      assert.equal(got.descriptor.digest, digest, ref);
      const m = JSON.parse(got.manifest.toString()) as { layers?: { digest: string }[] };
      for (const l of m.layers ?? []) {
        const res = await fetch(`${kura.url}/v2/${repo}/blobs/${l.digest}`);
        assert.equal(res.status, 200);
        assert.equal(digestOf(Buffer.from(await res.arrayBuffer())), l.digest, `${ref} layer`);
      }
    }
  } finally {
    await kura.stop();
  }
}

const robot = {
  name: 'ci-bot',
  kind: 'robot' as const,
  passwordHash: '$2a$04$abcdefghijklmnopqrstuv0123456789012345678901234567890',
  grants: { repositories: ['team/**'], actions: ['pull'] },
  createdAt: 1_700_000_000_000,
  expiresAt: null,
};

/** A registry on fs + SQLite in `a`: 4 tags in 3 repositories (one image shared, one index) and a robot account. */
async function seed(a: string): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  const kura = await startKura({ dataDir: a });
  try {
    const client = new RegistryClient({ registry: kura.host });
    const shared = await randomImage({ seed: 80 });
    for (const [repo, tag, art] of [
      ['team/app', 'v1', shared],
      ['team/app', 'v2', await randomImage({ seed: 81, layers: 1 })],
      ['team/app-copy', 'v1', shared],
      ['multi', 'latest', await randomIndex({ seed: 82 })],
    ] as const) {
      tags.set(`${repo}:${tag}`, (await client.repository(repo).write(tag, art)).digest);
    }
  } finally {
    await kura.stop();
  }
  const meta = SqliteMetadataStore.open(join(a, 'kura.db'));
  await meta.accounts.put(robot);
  await meta.close();
  return tags;
}

test('migrate copies blobs, manifests, tags and accounts to another data directory and back, resumably', async () => {
  const a = join(tempDir(), 'a');
  const tags = await seed(a);

  const b = join(tempDir(), 'b');
  const [fromA, toB] = [configFor(a), configFor(b)];
  const first = JSON.parse((await kuraOk(['migrate', '--from', fromA, '--to', toB, '--json'])).stdout) as Record<
    string,
    unknown
  >;
  assert.deepEqual(first.errors, []);
  assert.equal(first.repositories, 3);
  assert.equal(first.tags, 4);
  assert.equal(
    first.manifests,
    4 + 2,
    'v1 and v2, the shared image again in team/app-copy, the index and its 2 children',
  );
  assert.equal(first.accounts, 1);
  assert.ok((first.mounted as number) >= 2, 'team/app-copy mounted the shared blobs');
  assert.equal(first.skipped, 0);
  const again = await kuraOk(['migrate', '--from', fromA, '--to', toB]);
  assert.match(again.stdout, /3 repositories, 0 tags, 0 manifests, 0 blobs \(0 bytes\), 0 blobs mounted, 0 accounts/);

  await assertServes(b, tags);
  const copied = SqliteMetadataStore.open(join(b, 'kura.db'));
  try {
    assert.deepEqual(await copied.accounts.get('ci-bot'), robot);
  } finally {
    await copied.close();
  }
  assert.equal((await runKura(['fsck', '--data', b])).code, 0, 'the destination is consistent');

  // And back, into a fresh directory.
  const c = join(tempDir(), 'c');
  const back = JSON.parse((await kuraOk(['migrate', '--from', toB, '--to', configFor(c), '--json'])).stdout) as {
    tags: number;
    errors: unknown[];
  };
  assert.deepEqual(back.errors, []);
  assert.equal(back.tags, 4);
  await assertServes(c, tags);
});

test('migrate refuses a missing flag, a migration onto itself and a memory source', async () => {
  const d = tempDir();
  const none = await runKura(['migrate', '--from', 'x.yml']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^kura: error: kura migrate needs --from CONFIG and --to CONFIG/m);
  const same = configFor(join(d, 'same'));
  const self = await runKura(['migrate', '--from', same, '--to', same]);
  assert.equal(self.code, 2);
  assert.match(self.stderr, /kura: error: .* name the same data directory/);
  const mem = join(d, 'mem.yml');
  writeFileSync(mem, `data: ${join(d, 'm')}\nstorage:\n  driver: memory\nmetadata:\n  driver: memory\n`);
  const fromMem = await runKura(['migrate', '--from', mem, '--to', configFor(join(d, 'other'))]);
  assert.equal(fromMem.code, 2);
  assert.match(fromMem.stderr, /kura: error: .* keeps its stores in memory/);
});

test(
  'migrate fs + SQLite to S3 + PostgreSQL and back: every tag at its digest, every blob verified, accounts kept',
  { skip: remoteSkip },
  async () => {
    const svc = s3 as S3Service;
    const a = join(tempDir(), 'a');
    const tags = await seed(a);
    const prefix = `migrate-${randomUUID()}`;
    const { schema, drop } = await freshSchema(pgUrl!);
    // JSON is YAML: the destination on the S3 bucket (under its own prefix) and a fresh PostgreSQL schema.
    const remoteData = join(tempDir(), 'remote');
    const remote = join(tempDir(), 'remote.yml');
    const s3Config = {
      bucket: svc.bucket,
      prefix,
      endpoint: svc.endpoint,
      forcePathStyle: true,
      accessKeyId: svc.accessKeyId,
      secretAccessKey: svc.secretAccessKey,
    };
    writeFileSync(
      remote,
      JSON.stringify({
        data: remoteData,
        storage: { driver: 's3', s3: s3Config },
        metadata: { driver: 'postgres', postgres: { url: pgUrl, schema } },
      }),
    );
    try {
      const out = JSON.parse((await kuraOk(['migrate', '--from', configFor(a), '--to', remote, '--json'])).stdout) as {
        errors: unknown[];
        repositories: number;
        tags: number;
        accounts: number;
      };
      assert.deepEqual(out.errors, []);
      assert.deepEqual([out.repositories, out.tags, out.accounts], [3, 4, 1]);
      await assertServes(remoteData, tags, ['--config', remote]);
      const fsck = await runKura(['fsck', '--config', remote, '--verify']);
      assert.equal(fsck.code, 0, `S3 + PostgreSQL is consistent, every blob hashes to its digest: ${fsck.stdout}`);

      // And back to fs + SQLite, into a fresh directory.
      const c = join(tempDir(), 'c');
      const back = JSON.parse((await kuraOk(['migrate', '--from', remote, '--to', configFor(c), '--json'])).stdout) as {
        errors: unknown[];
        tags: number;
        accounts: number;
      };
      assert.deepEqual(back.errors, []);
      assert.deepEqual([back.tags, back.accounts], [4, 1]);
      await assertServes(c, tags);
      const copied = SqliteMetadataStore.open(join(c, 'kura.db'));
      try {
        assert.deepEqual(await copied.accounts.get('ci-bot'), robot, 'the account went through PostgreSQL whole');
      } finally {
        await copied.close();
      }
      const fsckBack = await runKura(['fsck', '--data', c, '--verify']);
      assert.equal(fsckBack.code, 0, fsckBack.stdout);
    } finally {
      await drop();
      await emptyPrefix(svc, prefix);
    }
  },
);
