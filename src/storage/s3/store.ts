/**
 * S3BlobStore: the BlobStore on an S3 bucket (AWS or a compatible server such as Ceph RGW). Blobs live
 * at content-addressed keys; an upload is a marker object plus one object per write ("segment", named
 * by its start offset), so every replica can continue any upload and nothing is kept in process memory.
 * See README.md beside this file for the layout and why no partial blob can appear under a digest key.
 */
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { digestAlgorithm, digestHex, isDigest, type Digest } from '../../oci/digest.js';
import { checkHasBytes } from '../checks.js';
import { StorageNotFoundError, checkUploadId, type BlobStore, type ByteRange } from '../types.js';
import { Keys, MAX_COPY_OBJECT, MIN_PART, isNotFound, makeClient, type S3StoreOptions } from './client.js';
import { assemble, putBytes, writeStream, type Piece } from './objects.js';

const NAME = 's3';
const BLOB_KEY = /^(sha256|sha512)\/([0-9a-f]{2})\/([0-9a-f]+)$/;
const SEGMENT_KEY = /^seg\/(\d{16})$/;

/** What is stored for one upload: whether its marker exists, and its segments (start → size). */
interface UploadState {
  exists: boolean;
  segments: Map<number, { key: string; size: number }>;
  /** Every segment key, empty ones and strays included (what deleting the upload removes). */
  keys: string[];
}

export class S3BlobStore implements BlobStore {
  readonly name = NAME;
  readonly s3: S3Client;
  private readonly bucket: string;
  private readonly keys: Keys;
  private readonly partSize: number;
  /** Present only with `redirect: true`: the HTTP layer then redirects blob GETs to a presigned URL. */
  readonly redirectUrl?: (digest: Digest) => Promise<string>;

  constructor(opts: S3StoreOptions, client?: S3Client) {
    if (!opts.bucket) throw new Error('s3: a bucket is required (storage.s3.bucket)');
    this.s3 = client ?? makeClient(opts);
    this.bucket = opts.bucket;
    this.keys = new Keys(opts.prefix);
    this.partSize = Math.max(opts.partSize ?? 8 * 1024 * 1024, MIN_PART);
    if (opts.redirect) {
      const expiresIn = opts.redirectExpirySeconds ?? 1200;
      this.redirectUrl = async (digest) => {
        const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
        return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }), {
          expiresIn,
        });
      };
    }
  }

  private blobKey(digest: Digest): string {
    // Digests reach the store validated; checked again since a forged cast would otherwise become a key.
    if (!isDigest(digest)) throw new Error(`${NAME}: invalid digest "${String(digest).slice(0, 80)}"`);
    return this.keys.blob(digestAlgorithm(digest), digestHex(digest));
  }

  private async head(key: string): Promise<{ size: number; modified: number } | null> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, modified: out.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async stat(digest: Digest): Promise<number | null> {
    return (await this.head(this.blobKey(digest)))?.size ?? null;
  }

  async writtenAt(digest: Digest): Promise<number | null> {
    return (await this.head(this.blobKey(digest)))?.modified ?? null;
  }

  async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    const key = this.blobKey(digest);
    try {
      const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range }));
      return out.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw new StorageNotFoundError(NAME, digest);
      throw e;
    }
  }

  async put(digest: Digest, data: Uint8Array): Promise<void> {
    const key = this.blobKey(digest);
    await putBytes(this.s3, this.bucket, key, Buffer.from(data));
  }

  async delete(digest: Digest): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }));
  }

  /** Every key under `prefix`, page by page, with its size; `delimiter` lists "folders" instead. */
  private async *listKeys(prefix: string, delimiter?: string): AsyncGenerator<{ key: string; size: number }> {
    let ContinuationToken: string | undefined;
    do {
      const out = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken }),
      );
      for (const o of out.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0 };
      for (const p of out.CommonPrefixes ?? []) if (p.Prefix) yield { key: p.Prefix, size: 0 };
      ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async *list(): AsyncIterable<Digest> {
    const base = this.keys.blobs;
    for await (const { key } of this.listKeys(base)) {
      const m = BLOB_KEY.exec(key.slice(base.length));
      if (!m || !m[3]!.startsWith(m[2]!)) continue;
      const d = `${m[1]}:${m[3]}`;
      if (isDigest(d)) yield d;
    }
  }

  // ---- uploads ----

  private async state(id: string): Promise<UploadState> {
    const base = this.keys.upload(id);
    const state: UploadState = { exists: false, segments: new Map(), keys: [] };
    for await (const { key, size } of this.listKeys(base)) {
      const rest = key.slice(base.length);
      if (rest === 'info') state.exists = true;
      const m = SEGMENT_KEY.exec(rest);
      if (m) state.keys.push(key);
      if (m && size > 0) state.segments.set(Number(m[1]), { key, size });
    }
    return state;
  }

  /** The segments that make up the upload, in order, from offset 0 to its end (later strays are not part). */
  private chain(state: UploadState): Piece[] {
    const out: Piece[] = [];
    for (let at = 0, seg = state.segments.get(0); seg; seg = state.segments.get(at)) {
      out.push({ key: seg.key, start: at, end: at + seg.size });
      at += seg.size;
    }
    return out;
  }

  private sizeOf(state: UploadState): number {
    return this.chain(state).at(-1)?.end ?? 0;
  }

  async writeUpload(id: string, offset: number, data: Readable): Promise<number> {
    checkUploadId(NAME, id);
    const state = await this.state(id);
    if (offset > 0) {
      if (!state.exists) throw new StorageNotFoundError(NAME, `upload ${id}`);
      const size = this.sizeOf(state);
      if (offset > size) throw new Error(`${NAME}: cannot write at offset ${offset}: upload ${id} has ${size} bytes`);
      await this.cut(id, state, offset);
    } else {
      await this.cut(id, state, 0);
      if (!state.exists) await putBytes(this.s3, this.bucket, this.keys.info(id), Buffer.alloc(0));
    }
    const written = await writeStream(this.s3, this.bucket, this.keys.segment(id, offset), data, this.partSize);
    return offset + written;
  }

  /** Leaves the upload with exactly its first `offset` bytes: later segments go, one that straddles is cut. */
  private async cut(id: string, state: UploadState, offset: number): Promise<void> {
    const straddling = this.chain(state).find((p) => p.start < offset && p.end > offset);
    if (straddling)
      await assemble(this.s3, this.bucket, straddling.key, [
        { ...straddling, start: 0, end: offset - straddling.start },
      ]);
    const later = state.keys.filter((k) => Number(k.slice(-16)) >= offset);
    await Promise.all(later.map((Key) => this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }))));
  }

  async uploadSize(id: string): Promise<number | null> {
    checkUploadId(NAME, id);
    const state = await this.state(id);
    return state.exists ? this.sizeOf(state) : null;
  }

  /** The pieces holding the first `length` bytes of upload `id`. */
  private async piecesOf(id: string, length: number): Promise<Piece[]> {
    const state = await this.state(id);
    if (!state.exists) throw new StorageNotFoundError(NAME, `upload ${id}`);
    checkHasBytes(NAME, id, length, this.sizeOf(state));
    return this.chain(state)
      .filter((p) => p.start < length)
      .map((p) => ({ key: p.key, start: 0, end: Math.min(p.end, length) - p.start }));
  }

  async readUpload(id: string, length: number): Promise<Readable> {
    checkUploadId(NAME, id);
    const pieces = await this.piecesOf(id, length);
    const { s3, bucket } = this;
    return Readable.from(
      (async function* () {
        for (const p of pieces) {
          const Range = `bytes=${p.start}-${p.end - 1}`;
          const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: p.key, Range }));
          yield* out.Body as Readable;
        }
      })(),
      { objectMode: false },
    );
  }

  async commitUpload(id: string, digest: Digest, length: number): Promise<void> {
    checkUploadId(NAME, id);
    const key = this.blobKey(digest);
    if ((await this.head(key)) === null) {
      const pieces = await this.piecesOf(id, length);
      const whole = pieces.length === 1 && pieces[0]!.start === 0;
      if (whole && pieces[0]!.end <= MAX_COPY_OBJECT && (await this.head(pieces[0]!.key))?.size === length) {
        // One write that is the whole blob (what skopeo, podman and buildah send): a server-side copy.
        const CopySource = `${this.bucket}/${encodeURIComponent(pieces[0]!.key).replace(/%2F/g, '/')}`;
        await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: key, CopySource }));
      } else {
        await assemble(this.s3, this.bucket, key, pieces);
      }
    } else if (!(await this.state(id)).exists) {
      return; // a retried commit: the blob is there and the upload already gone
    }
    await this.deleteUpload(id);
  }

  async deleteUpload(id: string): Promise<void> {
    checkUploadId(NAME, id);
    const state = await this.state(id);
    await Promise.all(state.keys.map((Key) => this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }))));
    // The marker goes last: a crash before it leaves an upload that is still listed, so it is purged later.
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keys.info(id) }));
  }

  async *listUploads(): AsyncIterable<string> {
    const base = this.keys.uploads;
    for await (const { key } of this.listKeys(base, '/')) {
      const id = key.slice(base.length).replace(/\/$/, '');
      if (/^[A-Za-z0-9-]{1,64}$/.test(id)) yield id;
    }
  }

  /** Aborts multipart uploads under the prefix started more than `olderThanMs` ago (a crashed write's parts). */
  async sweepMultipart(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let n = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const out = await this.s3.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.keys.root, KeyMarker, UploadIdMarker }),
      );
      for (const u of out.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated?.getTime() ?? 0) > cutoff) continue;
        await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }));
        n++;
      }
      KeyMarker = out.IsTruncated ? out.NextKeyMarker : undefined;
      UploadIdMarker = out.IsTruncated ? out.NextUploadIdMarker : undefined;
    } while (KeyMarker);
    return n;
  }

  /** Closes the client's sockets. */
  close(): void {
    this.s3.destroy();
  }
}
