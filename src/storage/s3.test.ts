// The S3 blob store against a real S3 server (Ceph RGW): the BlobStore conformance suite, then what only S3 has.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { digestOf } from '../oci/digest.js';
import { rm } from 'node:fs/promises';
import { runKura } from '../test/helpers.js';
import { emptyPrefix, s3Service, type S3Service } from '../test/s3-service.js';
import { tempDir } from '../test/tempdirs.js';
import { withChecks } from './checks.js';
import { readAll, runBlobStoreConformance, streamOf } from './conformance.js';
import { S3BlobStore } from './s3/store.js';
import type { S3StoreOptions } from './s3/client.js';

const svc = await s3Service();
after(async () => {
  if (typeof svc !== 'string') await svc.stop();
});

function open(s: S3Service, prefix: string, extra: Partial<S3StoreOptions> = {}): S3BlobStore {
  return new S3BlobStore({ ...s, prefix, forcePathStyle: true, ...extra });
}

/** Counts the requests `store` sends, by command, and the most of each in flight at once. */
function countRequests(store: S3BlobStore): { sent: Record<string, number>; most: Record<string, number> } {
  const sent: Record<string, number> = {};
  const most: Record<string, number> = {};
  const now: Record<string, number> = {};
  store.s3.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName).replace(/Command$/, '');
      sent[name] = (sent[name] ?? 0) + 1;
      now[name] = (now[name] ?? 0) + 1;
      most[name] = Math.max(most[name] ?? 0, now[name]!);
      try {
        return await next(args);
      } finally {
        now[name]!--;
      }
    },
    { step: 'initialize', name: 'kuraCountRequests' },
  );
  return { sent, most };
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

if (typeof svc === 'string') {
  it('S3 blob store conformance', { skip: svc }, () => {});
} else {
  runBlobStoreConformance('s3 (Ceph RGW)', async () => {
    const prefix = `conf-${randomUUID()}`;
    const store = open(svc, prefix);
    return {
      store: withChecks(store),
      cleanup: async () => {
        store.close();
        await emptyPrefix(svc, prefix);
      },
    };
  });

  describe('S3BlobStore on Ceph RGW', () => {
    it('a second store (another replica) continues and commits an upload of small chunks', async () => {
      const prefix = `replica-${randomUUID()}`;
      const [a, b] = [open(svc, prefix), open(svc, prefix)];
      try {
        // Seven 1 MiB writes, below S3's 5 MiB part minimum: the commit must merge them into parts.
        const data = randomBytes(7 * 1024 * 1024 + 5);
        const cuts = [0, 1, 2, 3, 4, 5, 6].map((i) => i * 1024 * 1024).concat(data.length);
        for (let i = 0; i < 7; i++) {
          const store = i % 2 === 0 ? a : b;
          assert.equal(
            await store.writeUpload('up', cuts[i]!, streamOf(data.subarray(cuts[i], cuts[i + 1]))),
            cuts[i + 1],
          );
        }
        assert.equal(await a.uploadSize('up'), data.length);
        const d = digestOf(data);
        await b.commitUpload('up', d, data.length);
        assert.equal(await a.stat(d), data.length);
        assert.equal(sha256(await readAll(await a.read(d))), sha256(data));
        assert.equal(await b.uploadSize('up'), null);
      } finally {
        a.close();
        b.close();
        await emptyPrefix(svc, prefix);
      }
    });

    it('cuts a big write back to an offset inside it, then commits a mix of copied and re-sent parts', async () => {
      const prefix = `cut-${randomUUID()}`;
      const store = open(svc, prefix, { partSize: 5 * 1024 * 1024 });
      try {
        const data = randomBytes(13 * 1024 * 1024);
        assert.equal(await store.writeUpload('up', 0, streamOf(data.subarray(0, 12 * 1024 * 1024))), 12 * 1024 * 1024);
        // The acknowledged offset was 6 MiB + 7: the rest of that write is cut and written again.
        const at = 6 * 1024 * 1024 + 7;
        assert.equal(await store.writeUpload('up', at, streamOf(data.subarray(at, 9 * 1024 * 1024))), 9 * 1024 * 1024);
        assert.equal(await store.uploadSize('up'), 9 * 1024 * 1024);
        assert.equal(
          await store.writeUpload('up', 9 * 1024 * 1024, streamOf(data.subarray(9 * 1024 * 1024))),
          data.length,
        );
        const d = digestOf(data);
        await store.commitUpload('up', d, data.length);
        assert.equal(sha256(await readAll(await store.read(d))), sha256(data));
      } finally {
        store.close();
        await emptyPrefix(svc, prefix);
      }
    });

    it('a failed write of several parts leaves no multipart upload behind', async () => {
      const prefix = `abort-${randomUUID()}`;
      const store = open(svc, prefix, { partSize: 5 * 1024 * 1024 });
      try {
        await store.writeUpload('up', 0, streamOf('x'));
        const boom = new Error('client went away');
        const body = streamOf(randomBytes(6 * 1024 * 1024));
        body.push = ((orig) =>
          function (this: typeof body, chunk: unknown) {
            if (chunk === null) {
              this.destroy(boom);
              return false;
            }
            return orig.call(this, chunk);
          })(body.push);
        await assert.rejects(store.writeUpload('up', 1, body), (e) => e === boom);
        assert.equal(await store.uploadSize('up'), 1);
        const left = await store.s3.send(new ListMultipartUploadsCommand({ Bucket: svc.bucket, Prefix: `${prefix}/` }));
        assert.deepEqual(left.Uploads ?? [], []);
      } finally {
        store.close();
        await emptyPrefix(svc, prefix);
      }
    });

    it('the sweep aborts stale multipart uploads under its prefix only', async () => {
      const prefix = `sweep-${randomUUID()}`;
      const store = open(svc, prefix);
      const other = `other-${randomUUID()}`;
      try {
        for (const p of [prefix, other]) {
          await store.s3.send(new CreateMultipartUploadCommand({ Bucket: svc.bucket, Key: `${p}/uploads/x/seg/0` }));
        }
        assert.equal(await store.sweepMultipart(3_600_000), 0, 'a fresh one is kept');
        assert.equal(await store.sweepMultipart(-1), 1);
        const left = await store.s3.send(new ListMultipartUploadsCommand({ Bucket: svc.bucket }));
        const keys = (left.Uploads ?? []).map((u) => u.Key);
        assert.ok(keys.includes(`${other}/uploads/x/seg/0`));
        assert.ok(!keys.some((k) => k?.startsWith(`${prefix}/`)));
        await open(svc, other).sweepMultipart(-1);
      } finally {
        store.close();
        await emptyPrefix(svc, prefix);
      }
    });

    it('redirect mode hands out presigned URLs that fetch the blob; without it there are none', async () => {
      const prefix = `redirect-${randomUUID()}`;
      const store = open(svc, prefix, { redirect: true });
      try {
        const data = Buffer.from('presigned bytes');
        const d = digestOf(data);
        await store.put(d, data);
        const url = await store.redirectUrl!(d);
        assert.match(url, /X-Amz-Signature=/);
        assert.ok(!url.includes(svc.secretAccessKey), 'the secret never appears in a URL');
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.equal(Buffer.from(await res.arrayBuffer()).toString(), 'presigned bytes');
        const tampered = await fetch(url.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=' + '0'.repeat(64)));
        assert.equal(tampered.status, 403);
        assert.equal(open(svc, prefix).redirectUrl, undefined);
      } finally {
        store.close();
        await emptyPrefix(svc, prefix);
      }
    });

    it('kura serve names the fix for a wrong bucket, key or endpoint, and never prints the secret', async () => {
      const tmp = tempDir('kura-s3-errors-');
      const serve = (bucket: string, endpoint: string, secret: string) =>
        runKura(['serve', '--listen', '127.0.0.1:0', '--data', tmp, '--storage-driver', 's3'], {
          env: {
            ...process.env,
            KURA_STORAGE_S3_BUCKET: bucket,
            KURA_STORAGE_S3_ENDPOINT: endpoint,
            AWS_ACCESS_KEY_ID: svc.accessKeyId,
            AWS_SECRET_ACCESS_KEY: secret,
          },
        });
      try {
        const cases = [
          [await serve('no-such-bucket', svc.endpoint, svc.secretAccessKey), /NoSuchBucket/],
          [await serve(svc.bucket, svc.endpoint, 'wrong-secret-123'), /SignatureDoesNotMatch/],
          [await serve(svc.bucket, 'http://127.0.0.1:1', svc.secretAccessKey), /ECONNREFUSED/],
        ] as const;
        for (const [r, why] of cases) {
          assert.notEqual(r.code, 0);
          const lines = r.stderr.trim().split('\n');
          assert.equal(lines.length, 1, r.stderr);
          assert.match(
            lines[0]!,
            /^kura: error: S3 bucket .* refused the first request .*check storage\.s3\.\* and the credentials$/,
          );
          assert.match(lines[0]!, why);
          assert.ok(!r.stderr.includes(svc.secretAccessKey) && !r.stderr.includes('wrong-secret-123'));
        }
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });

    it('a blob sent in one write costs 4 requests: list and write at once, then copy and delete', async () => {
      const prefix = `requests-${randomUUID()}`;
      const [a, b] = [open(svc, prefix), open(svc, prefix)];
      try {
        const { sent } = countRequests(a);
        const data = randomBytes(300 * 1024);
        const d = digestOf(data);
        assert.equal(await a.writeUpload('up', 0, streamOf(data)), data.length);
        assert.deepEqual(sent, { ListObjectsV2: 1, PutObject: 1 });
        await a.commitUpload('up', d, data.length);
        assert.deepEqual(sent, { ListObjectsV2: 1, PutObject: 1, CopyObject: 1, DeleteObject: 1 });
        assert.equal(sha256(await readAll(await b.read(d))), sha256(data));
        assert.equal(await b.uploadSize('up'), null);
        // Committed by another replica (no memory of the write): one listing more.
        const other = countRequests(b).sent;
        assert.equal(await a.writeUpload('up2', 0, streamOf(data)), data.length);
        await b.commitUpload('up2', d, data.length);
        assert.deepEqual(other, { ListObjectsV2: 1, CopyObject: 1, DeleteObject: 1 });
        assert.equal(await a.uploadSize('up2'), null);
        // An empty blob takes the same path (an empty seg/0 copied).
        const empty = digestOf(Buffer.alloc(0));
        assert.equal(await a.writeUpload('up3', 0, streamOf('')), 0);
        await a.commitUpload('up3', empty, 0);
        assert.equal(await b.stat(empty), 0);
        assert.equal(await b.uploadSize('up3'), null);
      } finally {
        a.close();
        b.close();
        await emptyPrefix(svc, prefix);
      }
    });

    it('a restart at offset 0 drops the earlier attempt; a failed first write leaves 0 bytes', async () => {
      const prefix = `restart-${randomUUID()}`;
      const store = open(svc, prefix);
      try {
        await store.writeUpload('up', 0, streamOf('abc'));
        await store.writeUpload('up', 3, streamOf('def'));
        // seg/3 of the first attempt would continue a new 3-byte seg/0: it must be gone.
        assert.equal(await store.writeUpload('up', 0, streamOf('xyz')), 3);
        assert.equal(await store.uploadSize('up'), 3);
        const body = streamOf('12345');
        body.push = ((orig) =>
          function (this: typeof body, chunk: unknown) {
            if (chunk === null) {
              this.destroy(new Error('client went away'));
              return false;
            }
            return orig.call(this, chunk);
          })(body.push);
        await assert.rejects(store.writeUpload('up', 0, body), /client went away/);
        assert.equal(await store.uploadSize('up'), 0);
      } finally {
        store.close();
        await emptyPrefix(svc, prefix);
      }
    });

    it('a big write sends its parts several at once, in order', async () => {
      const prefix = `parts-${randomUUID()}`;
      const store = open(svc, prefix, { partSize: 5 * 1024 * 1024 });
      try {
        const { sent, most } = countRequests(store);
        const data = randomBytes(26 * 1024 * 1024);
        // Many small chunks, as a socket delivers them.
        const chunks = Array.from({ length: 26 * 16 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
        assert.equal(await store.writeUpload('up', 0, streamOf(...chunks)), data.length);
        assert.equal(sent.UploadPart, 6);
        assert.ok((most.UploadPart ?? 0) >= 2, `parts in flight at most ${most.UploadPart}`);
        assert.ok((most.UploadPart ?? 0) <= 3, `parts in flight at most ${most.UploadPart}`);
        const d = digestOf(data);
        await store.commitUpload('up', d, data.length);
        assert.equal(sha256(await readAll(await store.read(d))), sha256(data));
      } finally {
        store.close();
        await emptyPrefix(svc, prefix);
      }
    });

    it('keeps every key under its prefix and refuses a prefix with dot segments', async () => {
      assert.throws(() => open(svc, 'a/../b'), /invalid prefix/);
      assert.throws(() => new S3BlobStore({ ...svc, bucket: '' }), /bucket is required/);
    });
  });
}
