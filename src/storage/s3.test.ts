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

    it('keeps every key under its prefix and refuses a prefix with dot segments', async () => {
      assert.throws(() => open(svc, 'a/../b'), /invalid prefix/);
      assert.throws(() => new S3BlobStore({ ...svc, bucket: '' }), /bucket is required/);
    });
  });
}
