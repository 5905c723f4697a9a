/**
 * Object-level building blocks of the S3 blob store: a stream written to one key (one PutObject, or a
 * multipart upload when it outgrows a part, aborted when the stream fails), and one key assembled from
 * byte ranges of others (server-side UploadPartCopy where a range is big enough, re-uploaded bytes where
 * it is below S3's 5 MiB part minimum). Both make the key appear whole or not at all.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { MAX_COPY_PART, MIN_PART } from './client.js';

/** A byte range [start, end) of object `key`. */
export interface Piece {
  key: string;
  start: number;
  end: number;
}

/** One multipart upload to `key`: parts added in order, completed or aborted once. */
class Multipart {
  private readonly parts: CompletedPart[] = [];
  /** Created at the first part; a promise, so that parts sent at once share one upload. */
  private uploadId: Promise<string> | undefined;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
  ) {}

  private id(): Promise<string> {
    this.uploadId ??= this.s3
      .send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.key }))
      .then((out) => {
        if (!out.UploadId) throw new Error(`s3: no UploadId for ${this.key}`);
        return out.UploadId;
      });
    return this.uploadId;
  }

  get started(): boolean {
    return this.parts.length > 0;
  }

  /** Sends `body` as the next part; parts may be in flight at once (numbered in call order). */
  async upload(body: Buffer): Promise<void> {
    const PartNumber = this.parts.length + 1;
    this.parts.push({ PartNumber });
    const UploadId = await this.id();
    const out = await this.s3.send(
      new UploadPartCommand({ Bucket: this.bucket, Key: this.key, UploadId, PartNumber, Body: body }),
    );
    this.parts[PartNumber - 1]!.ETag = out.ETag;
  }

  async copy(from: Piece): Promise<void> {
    const PartNumber = this.parts.length + 1;
    this.parts.push({ PartNumber });
    const UploadId = await this.id();
    const out = await this.s3.send(
      new UploadPartCopyCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId,
        PartNumber,
        CopySource: `${this.bucket}/${encodeURIComponent(from.key).replace(/%2F/g, '/')}`,
        CopySourceRange: `bytes=${from.start}-${from.end - 1}`,
      }),
    );
    this.parts[PartNumber - 1]!.ETag = out.CopyPartResult?.ETag;
  }

  async complete(): Promise<void> {
    const UploadId = await this.id();
    // Ceph RGW answers with an empty ETag here: nothing reads it.
    await this.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId,
        MultipartUpload: { Parts: this.parts },
      }),
    );
  }

  async abort(): Promise<void> {
    const UploadId = await this.uploadId?.catch(() => undefined);
    this.uploadId = undefined;
    if (!UploadId) return;
    await this.s3
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId }))
      .catch(() => {}); // left for the start-up sweep of stale multipart uploads
  }
}

/** Concatenates buffers until `size` bytes are held; `take()` hands back exactly what was held. */
class Buffered {
  private chunks: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  take(n = this.length): Buffer {
    const all = Buffer.concat(this.chunks, this.length);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.length = rest.length;
    return all.subarray(0, n);
  }
}

/** Parts of one write in flight at once (RGW takes parts at a rate per request); memory: this + 1 parts. */
export const PARTS_IN_FLIGHT = 3;

/**
 * Writes `body` to `key` and resolves to its length. Up to `partSize` bytes go in one PutObject; more
 * go as a multipart upload, up to PARTS_IN_FLIGHT parts in flight while the next is read (part numbers
 * keep the body's order). A failing body or part aborts the upload and rejects: `key` is then untouched.
 */
export async function writeStream(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Readable,
  partSize: number,
): Promise<number> {
  const mp = new Multipart(s3, bucket, key);
  const buf = new Buffered();
  const inFlight = new Set<Promise<void>>();
  let total = 0;
  try {
    for await (const chunk of body) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      buf.push(b);
      total += b.length;
      while (buf.length >= partSize) {
        // A failed part stays in the set, so that the race (and the loop) rejects with its error.
        while (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
        const part = mp.upload(buf.take(partSize));
        inFlight.add(part);
        part.then(
          () => inFlight.delete(part),
          () => {},
        ); // awaited through the set; not unhandled meanwhile
      }
    }
    await Promise.all(inFlight);
    if (!mp.started) {
      await putBytes(s3, bucket, key, buf.take());
      return total;
    }
    if (buf.length > 0) await mp.upload(buf.take());
    await mp.complete();
    return total;
  } catch (e) {
    await Promise.allSettled(inFlight);
    await mp.abort();
    throw e;
  }
}

/** One PutObject of bytes in memory (with their length: S3 needs it). */
export async function putBytes(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
}

/** The bytes of one piece, read whole into memory (used only for pieces below the part minimum). */
async function readPiece(s3: S3Client, bucket: string, p: Piece): Promise<Buffer> {
  if (p.end <= p.start) return Buffer.alloc(0);
  const out = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: p.key, Range: `bytes=${p.start}-${p.end - 1}` }),
  );
  const bytes = await out.Body!.transformToByteArray();
  if (bytes.length !== p.end - p.start) throw new Error(`s3: short read of ${p.key}: ${bytes.length} bytes`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Makes `key` hold the pieces' bytes one after another, atomically (one CompleteMultipartUpload, or one
 * PutObject when everything fits into a part). Big pieces are copied server-side; small ones are read
 * and re-uploaded together until they make a part of S3's minimum size.
 */
export async function assemble(s3: S3Client, bucket: string, key: string, pieces: Piece[]): Promise<void> {
  const mp = new Multipart(s3, bucket, key);
  const buf = new Buffered();
  try {
    const queue = pieces.filter((p) => p.end > p.start).map((p) => ({ ...p }));
    for (let p = queue.shift(); p; p = queue.shift()) {
      const size = p.end - p.start;
      if (buf.length === 0 && size >= MIN_PART) {
        // Copy in chunks of at most MAX_COPY_PART; a remainder under 2 chunks goes whole (≤ 5 GiB).
        const n = size < 2 * MAX_COPY_PART ? size : MAX_COPY_PART;
        await mp.copy({ key: p.key, start: p.start, end: p.start + n });
        if (n < size) queue.unshift({ key: p.key, start: p.start + n, end: p.end });
        continue;
      }
      const need = Math.min(size, MIN_PART - buf.length);
      buf.push(await readPiece(s3, bucket, { key: p.key, start: p.start, end: p.start + need }));
      if (need < size) queue.unshift({ key: p.key, start: p.start + need, end: p.end });
      if (buf.length >= MIN_PART) await mp.upload(buf.take());
    }
    if (!mp.started) {
      await putBytes(s3, bucket, key, buf.take());
      return;
    }
    if (buf.length > 0) await mp.upload(buf.take());
    await mp.complete();
  } catch (e) {
    await mp.abort();
    throw e;
  }
}
