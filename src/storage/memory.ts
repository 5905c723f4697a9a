import { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import { checkHasBytes } from './checks.js';
import { StorageNotFoundError, type BlobStore, type ByteRange } from './types.js';

const CHUNK = 1024 * 1024;

/**
 * A BlobStore in process memory, for tests and throwaway registries. Nothing survives a restart.
 * Arguments are checked by `withChecks` (checks.ts), which wraps every store the server opens.
 */
export class MemoryBlobStore implements BlobStore {
  readonly name = 'memory';
  private readonly blobs = new Map<string, Buffer>();
  private readonly written = new Map<string, number>();
  private readonly uploads = new Map<string, Buffer>();

  async stat(digest: Digest): Promise<number | null> {
    return this.blobs.get(digest)?.length ?? null;
  }

  async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    const blob = this.blobs.get(digest);
    if (!blob) throw new StorageNotFoundError(this.name, digest);
    if (!range) return streamOf(blob);
    return streamOf(blob.subarray(range.start, range.end + 1));
  }

  async put(digest: Digest, data: Uint8Array): Promise<void> {
    // Copy: the caller may reuse its buffer, and a stored blob must never change.
    if (!this.blobs.has(digest)) {
      this.blobs.set(digest, Buffer.from(data));
      this.written.set(digest, Date.now());
    }
  }

  async delete(digest: Digest): Promise<void> {
    this.blobs.delete(digest);
    this.written.delete(digest);
  }

  async writtenAt(digest: Digest): Promise<number | null> {
    return this.written.get(digest) ?? null;
  }

  async *list(): AsyncIterable<Digest> {
    for (const d of [...this.blobs.keys()]) yield d as Digest;
  }

  async writeUpload(id: string, offset: number, data: Readable): Promise<number> {
    const current = this.uploads.get(id);
    if (!current && offset !== 0) throw new StorageNotFoundError(this.name, `upload ${id}`);
    if (current && current.length < offset) {
      throw new Error(`${this.name}: upload ${id} has ${current.length} bytes, cannot write at offset ${offset}`);
    }
    // Truncate first, like the filesystem store, so a failed request leaves the same state in both.
    const head = current ? current.subarray(0, offset) : Buffer.alloc(0);
    this.uploads.set(id, head);
    const chunks: Buffer[] = [head];
    // A write is kept whole or not at all (the contract); never resurrect an upload deleted meanwhile.
    for await (const chunk of data) chunks.push(Buffer.from(chunk as Uint8Array | string));
    if (this.uploads.has(id)) this.uploads.set(id, Buffer.concat(chunks));
    const size = this.uploads.get(id)?.length;
    if (size === undefined) throw new StorageNotFoundError(this.name, `upload ${id}`);
    return size;
  }

  async uploadSize(id: string): Promise<number | null> {
    return this.uploads.get(id)?.length ?? null;
  }

  async readUpload(id: string, length: number): Promise<Readable> {
    const upload = this.uploads.get(id);
    if (!upload) throw new StorageNotFoundError(this.name, `upload ${id}`);
    checkHasBytes(this.name, id, length, upload.length);
    return streamOf(upload.subarray(0, length));
  }

  async commitUpload(id: string, digest: Digest, length: number): Promise<void> {
    // A retried commit whose first attempt already succeeded finds the blob and no upload: fine.
    if (this.blobs.has(digest)) {
      this.uploads.delete(id);
      return;
    }
    const upload = this.uploads.get(id);
    if (!upload) throw new StorageNotFoundError(this.name, `upload ${id}`);
    checkHasBytes(this.name, id, length, upload.length);
    this.blobs.set(digest, upload.subarray(0, length));
    this.written.set(digest, Date.now());
    this.uploads.delete(id);
  }

  async deleteUpload(id: string): Promise<void> {
    this.uploads.delete(id);
  }

  async *listUploads(): AsyncIterable<string> {
    for (const id of [...this.uploads.keys()]) yield id;
  }
}

/** A byte stream (not object mode) in 1 MiB slices, so consumers see the same shape as from a file. */
function streamOf(buf: Buffer): Readable {
  function* slices(): Generator<Buffer> {
    for (let i = 0; i < buf.length; i += CHUNK) yield buf.subarray(i, i + CHUNK);
  }
  return Readable.from(slices(), { objectMode: false });
}
