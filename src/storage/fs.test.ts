import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { digestHex, digestOf, type Digest } from '../oci/digest.js';
import { readAll, runBlobStoreConformance, streamOf } from './conformance.js';
import { FsBlobStore } from './fs.js';
import { withChecks } from './checks.js';
import { tempDir } from '../test/tempdirs.js';

runBlobStoreConformance('filesystem', async () => {
  const root = await tempDir('ocikura-fs-');
  return { store: withChecks(new FsBlobStore(root)), cleanup: () => rm(root, { recursive: true, force: true }) };
});

/** Every file under dir, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('FsBlobStore on disk', () => {
  let parent: string;
  let root: string;
  let store: FsBlobStore;
  beforeEach(async () => {
    parent = await tempDir('ocikura-fs-');
    root = join(parent, 'root');
    store = new FsBlobStore(root);
  });
  afterEach(() => rm(parent, { recursive: true, force: true }));

  it('creates nothing until the first write', async () => {
    assert.equal(await store.stat(digestOf('x')), null);
    assert.equal(await store.uploadSize('u1'), null);
    assert.deepEqual(await collect(store.list()), []);
    assert.deepEqual(await collect(store.listUploads()), []);
    assert.equal(existsSync(root), false);
  });

  it('commits a blob to blobs/<alg>/<first two hex>/<hex>', async () => {
    const d = digestOf('layer bytes');
    await store.writeUpload('u1', 0, streamOf('layer bytes'));
    await store.commitUpload('u1', d, 11);
    const hex = digestHex(d);
    assert.equal(await readFile(join(root, 'blobs', 'sha256', hex.slice(0, 2), hex), 'utf8'), 'layer bytes');
    const d512 = digestOf('config', 'sha512');
    await store.put(d512, Buffer.from('config'));
    const hex512 = digestHex(d512);
    assert.equal(await readFile(join(root, 'blobs', 'sha512', hex512.slice(0, 2), hex512), 'utf8'), 'config');
  });

  it('leaves nothing in uploads/ or tmp/ after commit and put', async () => {
    await store.writeUpload('u1', 0, streamOf('abc'));
    await store.commitUpload('u1', digestOf('abc'), 3);
    await store.put(digestOf('def'), Buffer.from('def'));
    await store.writeUpload('u2', 0, streamOf('abc'));
    await store.commitUpload('u2', digestOf('abc'), 3);
    assert.deepEqual(await readdir(join(root, 'uploads')), []);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.equal((await filesUnder(root)).length, 2);
  });

  it('ignores stray files a crash or an operator left behind', async () => {
    const d = digestOf('real');
    await store.put(d, Buffer.from('real'));
    const hex = digestHex(d);
    await writeFile(join(root, 'tmp', 'half-written'), 'x');
    await writeFile(join(root, 'blobs', 'sha256', hex.slice(0, 2), 'not-a-digest'), 'x');
    await writeFile(join(root, 'blobs', 'sha256', hex.slice(0, 2), digestHex(digestOf('elsewhere'))), 'x');
    await mkdir(join(root, 'blobs', 'md5', 'ab'), { recursive: true });
    await writeFile(join(root, 'blobs', 'md5', 'ab', 'ab'.padEnd(32, '0')), 'x');
    await mkdir(join(root, 'uploads'), { recursive: true });
    await writeFile(join(root, 'uploads', '.hidden'), 'x');
    await mkdir(join(root, 'uploads', 'a-dir'));
    assert.deepEqual(await collect(store.list()), [d]);
    assert.deepEqual(await collect(store.listUploads()), []);
  });

  it('cannot be made to touch files outside ROOT', async () => {
    await writeFile(join(parent, 'victim'), 'untouched');
    for (const id of ['../victim', '../../evil', '..', '%2e%2e%2fevil', 'a/../../evil']) {
      await assert.rejects(store.writeUpload(id, 0, streamOf('pwned')), /invalid upload id/);
      await assert.rejects(store.commitUpload(id, digestOf('pwned'), 5), /invalid upload id/);
      await assert.rejects(store.deleteUpload(id), /invalid upload id/);
    }
    // Digest is a branded string; a forged cast must still not become a path.
    for (const forged of ['sha256:../../../evil', '../evil', 'sha256:' + '../'.repeat(21) + 'e']) {
      const d = forged as Digest;
      await assert.rejects(store.put(d, Buffer.from('pwned')), /invalid digest/);
      await assert.rejects(store.stat(d), /invalid digest/);
      await assert.rejects(store.read(d), /invalid digest/);
      await assert.rejects(store.delete(d), /invalid digest/);
    }
    assert.equal(await readFile(join(parent, 'victim'), 'utf8'), 'untouched');
    const outside = (await filesUnder(parent)).filter((f) => !f.startsWith('root'));
    assert.deepEqual(outside, ['victim']);
  });

  it('has stopped writing by the time a failed writeUpload rejects', async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 1);
    const body = Readable.from(
      (async function* () {
        yield big;
        yield big;
        throw new Error('client went away');
      })(),
      { objectMode: false },
    );
    await assert.rejects(store.writeUpload('u1', 0, body), /client went away/);
    // Otherwise an in-flight write could land after the retry's truncate and corrupt the upload.
    const atReject = await store.uploadSize('u1');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await store.uploadSize('u1'), atReject);
  });

  it('keeps serving a blob that is deleted mid-read', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    const d = digestOf(data);
    await store.put(d, data);
    const stream = await store.read(d);
    await store.delete(d);
    assert.equal((await readAll(stream)).length, data.length);
  });
});

it('sweepTemp removes old staging files left by a crashed put and keeps fresh ones', async () => {
  const root = await tempDir('kura-sweep-');
  await mkdir(join(root, 'tmp'), { recursive: true });
  await writeFile(join(root, 'tmp', 'old'), 'x');
  await writeFile(join(root, 'tmp', 'new'), 'y');
  const past = new Date(Date.now() - 3600_000);
  await utimes(join(root, 'tmp', 'old'), past, past);
  const store = new FsBlobStore(root);
  assert.equal(await store.sweepTemp(60_000), 1);
  assert.deepEqual(await readdir(join(root, 'tmp')), ['new']);
  assert.equal(await new FsBlobStore(join(root, 'nothing-here')).sweepTemp(0), 0);
  await rm(root, { recursive: true, force: true });
});
