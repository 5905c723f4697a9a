/**
 * S3BlobStore: the BlobStore on an S3 bucket (AWS or a compatible server such as Ceph RGW). Blobs live
 * at content-addressed keys; an upload is one object per write ("segment", named by its start offset),
 * so every replica can continue any upload; process memory only saves requests (`single`), never decides.
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

/** Uploads remembered in `single` at most (the oldest is forgotten first: it then costs one listing more). */
const SINGLE_MAX = 10_000;

/** What is stored for one upload: whether it exists (any segment, or the older `info` marker), its segments. */
interface UploadState {
  exists: boolean;
  /** The `info` marker earlier releases wrote at an upload's first write (deleted with the upload). */
  info: boolean;
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
  /**
   * Uploads this process wrote with one write at offset 0 and found nothing else under (id → size): a
   * commit of exactly that size copies `seg/0` without listing first. Only a shortcut: a copy that finds
   * no `seg/0` falls back to the listing, and a write anywhere forgets the entry.
   */
  private readonly single = new Map<string, number>();
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
    const state: UploadState = { exists: false, info: false, segments: new Map(), keys: [] };
    for await (const { key, size } of this.listKeys(base)) {
      const rest = key.slice(base.length);
      if (rest === 'info') state.exists = state.info = true;
      const m = SEGMENT_KEY.exec(rest);
      if (m) state.keys.push(key);
      if (m && size > 0) state.segments.set(Number(m[1]), { key, size });
    }
    if (state.keys.length > 0) state.exists = true;
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
    this.single.delete(id);
    if (offset === 0) return this.writeFirst(id, data);
    const state = await this.state(id);
    if (!state.exists) throw new StorageNotFoundError(NAME, `upload ${id}`);
    const size = this.sizeOf(state);
    if (offset > size) throw new Error(`${NAME}: cannot write at offset ${offset}: upload ${id} has ${size} bytes`);
    await this.cut(id, state, offset);
    const written = await writeStream(this.s3, this.bucket, this.keys.segment(id, offset), data, this.partSize);
    return offset + written;
  }

  /**
   * A write at offset 0 (an upload's first, or a restart): `seg/0` is written while the upload is
   * listed, and what the listing shows besides `seg/0` (an earlier attempt's later segments) is deleted
   * after. A failed write leaves the upload with 0 bytes: an empty `seg/0`, nothing after it.
   */
  private async writeFirst(id: string, data: Readable): Promise<number> {
    const first = this.keys.segment(id, 0);
    const listing = this.state(id);
    listing.catch(() => {}); // awaited below, on both paths
    let written: number;
    try {
      written = await writeStream(this.s3, this.bucket, first, data, this.partSize);
    } catch (e) {
      const state = await listing.catch(() => null);
      await putBytes(this.s3, this.bucket, first, Buffer.alloc(0)).catch(() => {});
      if (state) await this.deleteKeys(state.keys.filter((k) => k !== first)).catch(() => {});
      throw e;
    }
    const state = await listing;
    const stale = state.keys.filter((k) => k !== first);
    await this.deleteKeys(stale);
    if (!state.info) this.remember(id, written);
    return written;
  }

  private remember(id: string, size: number): void {
    if (this.single.size >= SINGLE_MAX) this.single.delete(this.single.keys().next().value!);
    this.single.set(id, size);
  }

  /** Deletes `keys`, all at once. */
  private async deleteKeys(keys: string[]): Promise<void> {
    await Promise.all(keys.map((Key) => this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }))));
  }

  /** Leaves the upload with exactly its first `offset` bytes: later segments go, one that straddles is cut. */
  private async cut(id: string, state: UploadState, offset: number): Promise<void> {
    const straddling = this.chain(state).find((p) => p.start < offset && p.end > offset);
    if (straddling)
      await assemble(this.s3, this.bucket, straddling.key, [
        { ...straddling, start: 0, end: offset - straddling.start },
      ]);
    await this.deleteKeys(state.keys.filter((k) => Number(k.slice(-16)) >= offset));
  }

  async uploadSize(id: string): Promise<number | null> {
    checkUploadId(NAME, id);
    const state = await this.state(id);
    return state.exists ? this.sizeOf(state) : null;
  }

  /** The pieces holding the first `length` bytes of the upload listed as `state`. */
  private piecesOf(id: string, state: UploadState, length: number): Piece[] {
    if (!state.exists) throw new StorageNotFoundError(NAME, `upload ${id}`);
    checkHasBytes(NAME, id, length, this.sizeOf(state));
    return this.chain(state)
      .filter((p) => p.start < length)
      .map((p) => ({ key: p.key, start: 0, end: Math.min(p.end, length) - p.start }));
  }

  async readUpload(id: string, length: number): Promise<Readable> {
    checkUploadId(NAME, id);
    const pieces = this.piecesOf(id, await this.state(id), length);
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

  /**
   * One listing, one copy (or assembly), then the upload's keys deleted at once. The digest key is
   * HEADed first only for blobs of a part or more (skipping a big copy of bytes already there); a small
   * blob already there is copied again (the same bytes). See README.md for the requests per push.
   */
  async commitUpload(id: string, digest: Digest, length: number): Promise<void> {
    checkUploadId(NAME, id);
    const key = this.blobKey(digest);
    const known = this.single.get(id);
    this.single.delete(id);
    if (length >= this.partSize && (await this.head(key)) !== null) return this.deleteUpload(id);
    if (known === length && length <= MAX_COPY_OBJECT) {
      const first = this.keys.segment(id, 0);
      try {
        await this.copy(first, key);
        return await this.deleteKeys([first]);
      } catch (e) {
        if (!isNotFound(e)) throw e; // gone (another replica restarted or ended the upload): the listing decides
      }
    }
    const state = await this.state(id);
    if (!state.exists && (await this.head(key)) !== null) return; // a retried commit: the blob is there
    const pieces = this.piecesOf(id, state, length);
    const whole = this.chain(state)[0];
    if (whole && whole.end === length && length <= MAX_COPY_OBJECT) {
      // One write that is the whole blob (what skopeo, podman and buildah send): a server-side copy.
      await this.copy(whole.key, key);
    } else {
      await assemble(this.s3, this.bucket, key, pieces);
    }
    await this.deleteKeys(this.allKeys(id, state));
  }

  /** A server-side copy of object `from` to `to`. */
  private async copy(from: string, to: string): Promise<void> {
    const CopySource = `${this.bucket}/${encodeURIComponent(from).replace(/%2F/g, '/')}`;
    await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource }));
  }

  /** Every key of the upload listed as `state`: its segments and the older `info` marker. */
  private allKeys(id: string, state: UploadState): string[] {
    return state.info ? [...state.keys, this.keys.info(id)] : state.keys;
  }

  async deleteUpload(id: string): Promise<void> {
    checkUploadId(NAME, id);
    this.single.delete(id);
    // All at once: a crash midway leaves some keys, so the upload is still listed and purged later.
    await this.deleteKeys(this.allKeys(id, await this.state(id)));
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
