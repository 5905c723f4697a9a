// Two Registry instances (two replicas) on one PostgreSQL database: one garbage collector at a time, and takeover.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Registry } from '../registry/registry.js';
import { registryOptions } from '../server/open.js';
import { MemoryBlobStore } from '../storage/memory.js';
import { freshSchema, POSTGRES_SKIP, postgresUrl } from '../test/postgres.js';
import { PgMetadataStore } from './postgres/index.js';

const url = await postgresUrl();
const STORE_MODULE = fileURLToPath(new URL('./postgres/index.js', import.meta.url));

describe('PostgreSQL: garbage collection across replicas', { skip: url ? false : POSTGRES_SKIP }, () => {
  let schema: string;
  let drop: () => Promise<void>;
  let metaA: PgMetadataStore;
  let metaB: PgMetadataStore;
  let a: Registry;
  let b: Registry;
  before(async () => {
    ({ schema, drop } = await freshSchema(url!));
    metaA = await PgMetadataStore.open({ url: url!, schema, poolSize: 3 });
    metaB = await PgMetadataStore.open({ url: url!, schema, poolSize: 3 });
    const blobs = new MemoryBlobStore();
    a = new Registry(blobs, metaA, registryOptions());
    b = new Registry(blobs, metaB, registryOptions());
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
  });

  test('while one replica collects, the other skips; afterwards it collects', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const holder = metaA.gc.exclusive(async () => {
      entered();
      await gate;
      return 'done';
    });
    await inside;
    const skipped = await b.collectGarbage();
    assert.match(skipped.skipped ?? '', /another kura process is collecting/);
    assert.equal(skipped.swept, 0);
    // A dry run changes nothing and is not held back.
    assert.equal((await b.collectGarbage({ dryRun: true })).skipped, undefined);
    release();
    assert.equal(await holder, 'done');
    assert.equal((await b.collectGarbage()).skipped, undefined);
  });

  test('a collector that dies (SIGKILL) loses the lock and another replica takes over', async () => {
    const script = `
      const { PgMetadataStore } = await import(${JSON.stringify(STORE_MODULE)});
      const opts = { url: ${JSON.stringify(url)}, schema: ${JSON.stringify(schema)}, poolSize: 1 };
      const s = await PgMetadataStore.open(opts);
      await s.gc.exclusive(async () => {
        console.log('held');
        await new Promise(() => setInterval(() => {}, 1000));
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      assert.equal(line.toString().trim(), 'held');
      assert.match((await b.collectGarbage()).skipped ?? '', /another kura process/);
    } finally {
      child.kill('SIGKILL');
    }
    await once(child, 'exit');
    // The server ends the dead session when it reads the closed socket: at once, give it a few seconds at most.
    let result = await b.collectGarbage();
    for (let i = 0; i < 50 && result.skipped; i++) {
      await new Promise((r) => setTimeout(r, 100));
      result = await b.collectGarbage();
    }
    assert.equal(result.skipped, undefined, 'the other replica took over');
  });
});
