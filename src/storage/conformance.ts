import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { digestOf } from '../oci/digest.js';
import { StorageNotFoundError, type BlobStore } from './types.js';

export interface BlobStoreFixture {
  store: BlobStore;
  cleanup: () => Promise<void>;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A byte stream of the given parts, one chunk each. */
export function streamOf(...parts: (string | Uint8Array)[]): Readable {
  return Readable.from(
    parts.map((p) => Buffer.from(p)),
    { objectMode: false },
  );
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Emits `before`, then fails the way a client that hangs up mid-body does. */
function failingStream(before: Uint8Array, error: Error): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.from(before);
      await new Promise((r) => setImmediate(r));
      throw error;
    })(),
    { objectMode: false },
  );
}

const notFound = (e: unknown) => e instanceof StorageNotFoundError;

/** The behaviour every BlobStore must show. Each test gets a fresh, empty store. */
export function runBlobStoreConformance(name: string, create: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;
    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('put, stat, read and delete round-trip', async () => {
      const data = Buffer.from('{"schemaVersion":2}');
      const d = digestOf(data);
      await store.put(d, data);
      assert.equal(await store.stat(d), data.length);
      assert.deepEqual(await readAll(await store.read(d)), data);
      await store.delete(d);
      assert.equal(await store.stat(d), null);
      await assert.rejects(store.read(d), notFound);
    });

    it('stores an empty blob', async () => {
      const d = digestOf('');
      await store.put(d, new Uint8Array(0));
      assert.equal(await store.stat(d), 0);
      assert.equal((await readAll(await store.read(d))).length, 0);
    });

    it('reads an inclusive byte range', async () => {
      const data = Buffer.from('0123456789abcdef');
      const d = digestOf(data);
      await store.put(d, data);
      assert.equal((await readAll(await store.read(d, { start: 3, end: 7 }))).toString(), '34567');
      assert.equal((await readAll(await store.read(d, { start: 0, end: 0 }))).toString(), '0');
      assert.equal((await readAll(await store.read(d, { start: 15, end: 15 }))).toString(), 'f');
      assert.equal((await readAll(await store.read(d, { start: 0, end: 15 }))).toString(), data.toString());
    });

    it('reports absent blobs', async () => {
      const d = digestOf('absent');
      assert.equal(await store.stat(d), null);
      await assert.rejects(store.read(d), notFound);
      await assert.rejects(store.read(d, { start: 0, end: 1 }), notFound);
      await store.delete(d);
    });

    it('put is idempotent', async () => {
      const data = Buffer.from('same bytes');
      const d = digestOf(data);
      await store.put(d, data);
      await store.put(d, data);
      await Promise.all([store.put(d, data), store.put(d, data)]);
      assert.equal(await store.stat(d), data.length);
      assert.deepEqual(await readAll(await store.read(d)), data);
      assert.deepEqual(await collect(store.list()), [d]);
    });

    it('put copies its input', async () => {
      const data = Buffer.from('mutable');
      const d = digestOf(data);
      await store.put(d, data);
      data.fill(0);
      assert.equal((await readAll(await store.read(d))).toString(), 'mutable');
    });

    it('writes an upload in chunks and commits it', async () => {
      assert.equal(await store.writeUpload('u1', 0, streamOf('hello ')), 6);
      assert.equal(await store.writeUpload('u1', 6, streamOf('wor', 'ld')), 11);
      assert.equal(await store.writeUpload('u1', 11, streamOf()), 11);
      const d = digestOf('hello world');
      await store.commitUpload('u1', d, 11);
      assert.equal((await readAll(await store.read(d))).toString(), 'hello world');
      assert.equal(await store.stat(d), 11);
      assert.equal(await store.uploadSize('u1'), null);
      assert.deepEqual(await collect(store.listUploads()), []);
    });

    it('writing at an offset below the current size discards the tail', async () => {
      await store.writeUpload('u1', 0, streamOf('aaaaaaaaaa'));
      // The request that wrote bytes 4..9 crashed; the client resumes from the acknowledged offset 4.
      assert.equal(await store.writeUpload('u1', 4, streamOf('bb')), 6);
      assert.equal(await store.uploadSize('u1'), 6);
      assert.equal((await readAll(await store.readUpload('u1', 6))).toString(), 'aaaabb');
    });

    it('writing at offset 0 restarts an existing upload', async () => {
      await store.writeUpload('u1', 0, streamOf('first attempt'));
      assert.equal(await store.writeUpload('u1', 0, streamOf('xy')), 2);
      assert.equal((await readAll(await store.readUpload('u1', 2))).toString(), 'xy');
    });

    it('rejects writes at a wrong offset', async () => {
      await assert.rejects(store.writeUpload('missing', 5, streamOf('x')), notFound);
      assert.equal(await store.uploadSize('missing'), null);
      await store.writeUpload('u1', 0, streamOf('abc'));
      await assert.rejects(store.writeUpload('u1', 4, streamOf('x')), /cannot write at offset 4/);
      await assert.rejects(store.writeUpload('u1', -1, streamOf('x')), RangeError);
      await assert.rejects(store.writeUpload('u1', 1.5, streamOf('x')), RangeError);
      assert.equal(await store.uploadSize('u1'), 3);
    });

    it('reports upload sizes', async () => {
      assert.equal(await store.uploadSize('u1'), null);
      await store.writeUpload('u1', 0, streamOf(''));
      assert.equal(await store.uploadSize('u1'), 0);
      await store.writeUpload('u1', 0, streamOf('12345'));
      assert.equal(await store.uploadSize('u1'), 5);
    });

    it('reads the first bytes of an upload', async () => {
      await store.writeUpload('u1', 0, streamOf('0123456789'));
      assert.equal((await readAll(await store.readUpload('u1', 4))).toString(), '0123');
      assert.equal((await readAll(await store.readUpload('u1', 10))).toString(), '0123456789');
      assert.equal((await readAll(await store.readUpload('u1', 0))).length, 0);
      await assert.rejects(store.readUpload('u1', 11), /fewer than 11/);
      await assert.rejects(store.readUpload('missing', 0), notFound);
    });

    it('commits only the first `length` bytes', async () => {
      await store.writeUpload('u1', 0, streamOf('keep', 'DROP'));
      const d = digestOf('keep');
      await store.commitUpload('u1', d, 4);
      assert.equal((await readAll(await store.read(d))).toString(), 'keep');
    });

    it('commit of an existing digest succeeds and removes the upload', async () => {
      const d = digestOf('dup');
      await store.put(d, Buffer.from('dup'));
      await store.writeUpload('u1', 0, streamOf('dup'));
      await store.commitUpload('u1', d, 3);
      assert.equal(await store.uploadSize('u1'), null);
      assert.equal((await readAll(await store.read(d))).toString(), 'dup');
      // A retry after a commit that succeeded finds no upload but the blob: still fine.
      await store.commitUpload('u1', d, 3);
    });

    it('commit rejects a missing upload or a length beyond its size', async () => {
      const d = digestOf('abc');
      await assert.rejects(store.commitUpload('missing', d, 3), notFound);
      await store.writeUpload('u1', 0, streamOf('ab'));
      await assert.rejects(store.commitUpload('u1', d, 3), /fewer than 3/);
      assert.equal(await store.stat(d), null);
      assert.equal(await store.uploadSize('u1'), 2);
    });

    it('deletes uploads', async () => {
      await store.writeUpload('u1', 0, streamOf('data'));
      await store.deleteUpload('u1');
      assert.equal(await store.uploadSize('u1'), null);
      await assert.rejects(store.readUpload('u1', 0), notFound);
      await store.deleteUpload('u1');
    });

    it('lists blobs and uploads', async () => {
      assert.deepEqual(await collect(store.list()), []);
      assert.deepEqual(await collect(store.listUploads()), []);
      const blobs = ['a', 'b', 'c'].map((s) => Buffer.from(s));
      const digests = [...blobs.map((b) => digestOf(b)), digestOf('d', 'sha512')];
      for (const [i, b] of blobs.entries()) await store.put(digests[i]!, b);
      await store.put(digests[3]!, Buffer.from('d'));
      await store.writeUpload('up-1', 0, streamOf('x'));
      await store.writeUpload('UP-2', 0, streamOf(''));
      assert.deepEqual((await collect(store.list())).sort(), [...digests].sort());
      assert.deepEqual((await collect(store.listUploads())).sort(), ['UP-2', 'up-1']);
      await store.delete(digests[0]!);
      await store.deleteUpload('up-1');
      assert.deepEqual((await collect(store.list())).sort(), digests.slice(1).sort());
      assert.deepEqual(await collect(store.listUploads()), ['UP-2']);
    });

    it('lists 300 blobs, several sharing a shard prefix, each exactly once', async () => {
      // More blobs than two-hex shard directories (256), plus four chosen to share one prefix: a
      // list() that reads one entry per directory, or stops early, is caught by the count and the set.
      const bytes: Buffer[] = Array.from({ length: 300 }, (_, i) => Buffer.from(`blob ${i}`));
      const byPrefix = new Map<string, Buffer[]>();
      for (let i = 0; ![...byPrefix.values()].some((l) => l.length >= 4); i++) {
        const b = Buffer.from(`shared ${i}`);
        const prefix = digestOf(b).slice('sha256:'.length, 'sha256:'.length + 2);
        byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), b]);
      }
      bytes.push(...[...byPrefix.values()].find((l) => l.length >= 4)!);
      const digests = bytes.map((b) => digestOf(b));
      for (const [i, b] of bytes.entries()) await store.put(digests[i]!, b);
      const listed = await collect(store.list());
      assert.equal(listed.length, digests.length, 'every blob listed once');
      assert.deepEqual(new Set(listed), new Set(digests));
      for (const d of digests.slice(0, 150)) await store.delete(d);
      const after = await collect(store.list());
      assert.equal(after.length, digests.length - 150);
      assert.deepEqual(new Set(after), new Set(digests.slice(150)));
    });

    it('refuses invalid upload ids', async () => {
      const d = digestOf('x');
      const bad = ['../x', 'a/b', '', '%2e%2e', '.', '..', 'a\\b', 'a b', 'a\0b', 'x'.repeat(65)];
      for (const id of bad) {
        const invalid = /invalid upload id/;
        await assert.rejects(store.writeUpload(id, 0, streamOf('x')), invalid, id);
        await assert.rejects(store.uploadSize(id), invalid, id);
        await assert.rejects(store.readUpload(id, 0), invalid, id);
        await assert.rejects(store.commitUpload(id, d, 1), invalid, id);
        await assert.rejects(store.deleteUpload(id), invalid, id);
      }
      assert.equal(await store.uploadSize('x'.repeat(64)), null);
      assert.deepEqual(await collect(store.listUploads()), []);
      assert.deepEqual(await collect(store.list()), []);
    });

    it('rejects with the stream error when the body fails mid-way', async () => {
      await store.writeUpload('u1', 0, streamOf('12345'));
      const boom = new Error('client went away');
      await assert.rejects(store.writeUpload('u1', 5, failingStream(Buffer.from('junk'), boom)), (e) => e === boom);
      // Nothing of the failed write is kept (what an S3 store does by leaving its parts out), and the
      // caller, which still holds offset 5, resumes there.
      assert.equal(await store.uploadSize('u1'), 5);
      assert.equal(await store.writeUpload('u1', 5, streamOf('678')), 8);
      const d = digestOf('12345678');
      await store.commitUpload('u1', d, 8);
      assert.equal((await readAll(await store.read(d))).toString(), '12345678');
    });

    it('round-trips a 20 MiB upload written in 3 requests', async () => {
      const data = randomBytes(20 * 1024 * 1024);
      const cuts = [0, 7 * 1024 * 1024 + 13, 15 * 1024 * 1024 - 1, data.length];
      const piece = (b: Buffer) => {
        const parts: Buffer[] = [];
        for (let i = 0; i < b.length; i += 64 * 1024) parts.push(b.subarray(i, i + 64 * 1024));
        return streamOf(...parts);
      };
      for (let i = 0; i < 3; i++) {
        const size = await store.writeUpload('big', cuts[i]!, piece(data.subarray(cuts[i], cuts[i + 1])));
        assert.equal(size, cuts[i + 1]);
      }
      assert.equal(sha256(await readAll(await store.readUpload('big', data.length))), sha256(data));
      const d = digestOf(data);
      await store.commitUpload('big', d, data.length);
      assert.equal(await store.stat(d), data.length);
      assert.equal(`sha256:${sha256(await readAll(await store.read(d)))}`, d);
      const range = { start: 5 * 1024 * 1024 + 1, end: 17 * 1024 * 1024 };
      assert.equal(
        sha256(await readAll(await store.read(d, range))),
        sha256(data.subarray(range.start, range.end + 1)),
      );
    });
  });
}
