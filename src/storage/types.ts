import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';

/** An inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The server's dumb byte store: content-addressed blobs plus upload scratch space.
 * It never checks digests (the registry service hashes while streaming); it guarantees that a
 * blob is visible under its digest only complete and durable (commitUpload / put are atomic).
 * Upload ids are validated by the caller (UUIDs) but every implementation must still refuse ids
 * that are not `[A-Za-z0-9-]{1,64}` so that no id can escape its directory.
 */
export interface BlobStore {
  /** Implementation name for logs and errors, e.g. "filesystem". */
  readonly name: string;
  /** Size of a committed blob, or null when there is none. */
  stat(digest: Digest): Promise<number | null>;
  /** Streams a committed blob, or an inclusive byte range of it. Rejects with StorageNotFoundError when absent. */
  read(digest: Digest, range?: ByteRange): Promise<Readable>;
  /** Stores a small blob held in memory (manifests, configs) atomically and durably. Idempotent. */
  put(digest: Digest, data: Uint8Array): Promise<void>;
  /** Removes a committed blob; resolves quietly when it is absent. */
  delete(digest: Digest): Promise<void>;
  /** Every committed digest, in no particular order. */
  list(): AsyncIterable<Digest>;
  /** When a committed blob was written (ms since the epoch), or null when there is none. */
  writtenAt(digest: Digest): Promise<number | null>;
  /**
   * Appends `data` to upload `id` after its first `offset` bytes (creating the upload when offset is 0;
   * cutting any bytes past `offset` that a crash left first). Resolves to the upload's new size. A
   * write is kept whole or not at all: when `data` fails, the upload keeps its `offset` bytes. The
   * caller passes only offsets that a write resolved to, so an offset is always the end of a whole
   * write: an object store keeps each write as its own part(s) and leaves a failed write's parts out.
   */
  writeUpload(id: string, offset: number, data: Readable): Promise<number>;
  /** Current size of an upload, or null when there is none. */
  uploadSize(id: string): Promise<number | null>;
  /** Streams the first `length` bytes of an upload (used to re-hash after a restart). */
  readUpload(id: string, length: number): Promise<Readable>;
  /** Makes the first `length` bytes of upload `id` durable and visible as blob `digest`, atomically,
   *  then removes the upload. If the blob already exists the upload is simply removed. */
  commitUpload(id: string, digest: Digest, length: number): Promise<void>;
  /** Removes an upload; resolves quietly when it is absent. */
  deleteUpload(id: string): Promise<void>;
  /** Ids of every upload present in storage. */
  listUploads(): AsyncIterable<string>;
  /**
   * Present only on stores that can hand a blob out themselves (S3 with `storage.redirect: true`): a
   * short-lived URL the HTTP layer redirects blob GETs to, instead of streaming the bytes.
   */
  readonly redirectUrl?: (digest: Digest) => Promise<string>;
}

/**
 * What a stream from `BlobStore.read` may carry when it reads an open local file: the fd (owned by the
 * stream, closed when it is destroyed) and the region it covers. The HTTP layer uses it to send the
 * bytes with sendfile(2) instead of piping the stream; other consumers just read the stream.
 */
export interface FileRegion {
  fd: number;
  start: number;
  length: number;
}

const FILE_REGION = Symbol('kura.fileRegion');

/** Marks `stream` as reading `region` of an open file (see FileRegion). */
export function withFileRegion<T extends Readable>(stream: T, region: FileRegion): T {
  return Object.assign(stream, { [FILE_REGION]: region });
}

/** The file region a blob stream reads, when it reads one. */
export function fileRegionOf(stream: Readable): FileRegion | undefined {
  return (stream as Readable & { [FILE_REGION]?: FileRegion })[FILE_REGION];
}

export class StorageNotFoundError extends Error {
  constructor(
    readonly driver: string,
    readonly key: string,
  ) {
    super(`${driver}: ${key} not found`);
    this.name = 'StorageNotFoundError';
  }
}

const UPLOAD_ID_RE = /^[A-Za-z0-9-]{1,64}$/;

/** Throws unless `id` is safe to use as a path or key component. */
export function checkUploadId(driver: string, id: string): string {
  if (!UPLOAD_ID_RE.test(id)) throw new Error(`${driver}: invalid upload id "${id.slice(0, 80)}"`);
  return id;
}
