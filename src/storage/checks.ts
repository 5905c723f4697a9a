/**
 * The argument guards every BlobStore needs, applied once by `withChecks` around any implementation
 * (as distribution's `base` driver wraps each storage driver), so implementations hold only their own
 * logic and never import each other. Checks that need the stored data (is the upload long enough?)
 * stay in the implementations, through `checkHasBytes`.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import { checkUploadId, type BlobStore, type ByteRange } from './types.js';

export function checkRange(driver: string, range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`${driver}: invalid byte range ${start}-${end}`);
  }
}

export function checkOffset(driver: string, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`${driver}: invalid offset ${offset}`);
}

export function checkLength(driver: string, length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`${driver}: invalid length ${length}`);
}

/** Throws unless upload `id` holds at least `length` bytes (it holds `size`). */
export function checkHasBytes(driver: string, id: string, length: number, size: number): void {
  if (length > size) throw new Error(`${driver}: upload ${id} has ${size} bytes, fewer than ${length}`);
}

/** `store` with every argument checked before it gets there. */
export function withChecks(store: BlobStore): BlobStore {
  return new CheckedBlobStore(store);
}

class CheckedBlobStore implements BlobStore {
  readonly name: string;
  readonly redirectUrl?: (digest: Digest) => Promise<string>;

  constructor(private readonly inner: BlobStore) {
    this.name = inner.name;
    if (inner.redirectUrl) this.redirectUrl = inner.redirectUrl.bind(inner);
  }

  stat(digest: Digest): Promise<number | null> {
    return this.inner.stat(digest);
  }

  async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    if (range) checkRange(this.name, range);
    return this.inner.read(digest, range);
  }

  put(digest: Digest, data: Uint8Array): Promise<void> {
    return this.inner.put(digest, data);
  }

  delete(digest: Digest): Promise<void> {
    return this.inner.delete(digest);
  }

  list(): AsyncIterable<Digest> {
    return this.inner.list();
  }

  writtenAt(digest: Digest): Promise<number | null> {
    return this.inner.writtenAt(digest);
  }

  async writeUpload(id: string, offset: number, data: Readable): Promise<number> {
    checkUploadId(this.name, id);
    checkOffset(this.name, offset);
    return this.inner.writeUpload(id, offset, data);
  }

  async uploadSize(id: string): Promise<number | null> {
    checkUploadId(this.name, id);
    return this.inner.uploadSize(id);
  }

  async readUpload(id: string, length: number): Promise<Readable> {
    checkUploadId(this.name, id);
    checkLength(this.name, length);
    return this.inner.readUpload(id, length);
  }

  async commitUpload(id: string, digest: Digest, length: number): Promise<void> {
    checkUploadId(this.name, id);
    checkLength(this.name, length);
    return this.inner.commitUpload(id, digest, length);
  }

  async deleteUpload(id: string): Promise<void> {
    checkUploadId(this.name, id);
    return this.inner.deleteUpload(id);
  }

  listUploads(): AsyncIterable<string> {
    return this.inner.listUploads();
  }
}
