// createServer: an embedded registry (in memory by default, or on given stores) with auth and jobs, used by a client.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { randomImage } from '../oci/random.js';
import { MemoryMetadataStore } from '../metadata/memory/index.js';
import { MemoryBlobStore } from '../storage/memory.js';
import { RegistryClient } from '../transports/registry/client.js';
import { RegistryRepository } from '../transports/registry/repository.js';
import { UnauthorizedError } from '../transports/registry/auth.js';
import { createServer, embeddedConfig } from './create.js';
import { registryOptions } from './open.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-create-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('createServer() is an in-memory registry on a free loopback port that a client pushes to and pulls', async () => {
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const server = await createServer();
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(server.port, 0);
      assert.equal(server.dataDir, undefined, 'no data directory');
      assert.equal(server.authenticated, false);
      const repo = new RegistryClient({ registry: new URL(server.url).host }).repository('embedded/app');
      const img = await randomImage({ seed: 40 });
      const pushed = await repo.write('v1', img);
      assert.equal(pushed.digest, img.descriptor.digest);
      const pulled = await repo.get('v1');
      assert.deepEqual(pulled.manifest, img.manifest);
      assert.deepEqual(await repo.tags(), ['v1']);
      assert.ok(server.stores.meta instanceof MemoryMetadataStore, 'the memory driver by default');
    } finally {
      await server.close();
    }
    assert.deepEqual(readdirSync(dir), [], 'nothing was written to the working directory');
  } finally {
    process.chdir(cwd);
  }
});

test('createServer on given stores: htpasswd authentication and the retention job, as in kura serve', async () => {
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);
  const blobs = new MemoryBlobStore();
  const meta = new MemoryMetadataStore();
  const server = await createServer({
    blobs,
    meta,
    config: {
      auth: { htpasswd, rules: [{ repositories: ['**'], users: ['alice'], actions: ['pull', 'push', 'delete'] }] },
      retention: { interval: '200ms', rules: [{ repositories: ['**'], keepLast: 1 }] },
    },
  });
  try {
    assert.equal(server.stores.meta, meta, 'the given metadata store is served');
    assert.equal(server.authenticated, true);
    const host = new URL(server.url).host;
    const anonymous = new RegistryRepository(new RegistryClient({ registry: host }), 'team/app');
    await assert.rejects(anonymous.write('v1', await randomImage({ seed: 41 })), UnauthorizedError);
    const repo = new RegistryClient({
      registry: host,
      credentials: { username: 'alice', password: 'alice-pw' },
    }).repository('team/app');
    await repo.write('old', await randomImage({ seed: 42 }));
    await new Promise((r) => setTimeout(r, 20));
    await repo.write('new', await randomImage({ seed: 43 }));
    let tags = await repo.tags();
    for (let i = 0; i < 100 && tags.length > 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
      tags = await repo.tags();
    }
    assert.deepEqual(tags, ['new'], 'the retention job ran and kept the newest tag');
  } finally {
    await server.close();
  }
});

test('embeddedConfig and registryOptions give the defaults of an embedded server and of kura serve', () => {
  const c = embeddedConfig({ limits: { tagsPerPush: 3 } });
  assert.equal(c.listen, '127.0.0.1:0');
  assert.equal(c.storage.driver, 'memory');
  assert.equal(c.metadata.driver, 'memory');
  assert.equal(c.log.level, 'warn');
  assert.equal(registryOptions(c).tagsPerPush, 3);
  const d = registryOptions();
  assert.equal(d.deleteEnabled, true);
  assert.ok(d.manifestMaxBytes > 0 && d.pageMax > 0);
  assert.equal(existsSync(join(dir, 'data')), false);
});

test('createServer refuses a token service without a data directory, and config with loaded', async () => {
  await assert.rejects(
    createServer({ config: { auth: { token: { enabled: true } } } }),
    /token service keeps its signing key in the data directory/,
  );
  await assert.rejects(createServer({ config: {}, loaded: embeddedConfig() }), /config or loaded, not both/);
});
