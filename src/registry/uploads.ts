/**
 * Upload sessions: chunks hashed while they stream to storage, then verified and committed under the
 * digest's lock, inside the quota. Bytes become durable before the blob row (the crash argument).
 */
import { randomUUID, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { UploadRecord } from '../metadata/types.js';
import { digestAlgorithm, finishDigest, newHasher, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { StorageNotFoundError, type ByteRange } from '../storage/types.js';
import type { RegistryCore } from './core.js';
import { BLOB_MEDIA_TYPE } from './blobs.js';
import { HashingCounter } from './hashing.js';
import { KeyedLock } from './lock.js';
import type { QuotaService } from './quota.js';

/**
 * An upload's in-process hash, valid while it has seen exactly `offset` bytes; or (`given`, hash null) the digest
 * the caller computed of the very chunks it streams in (a pull-through fetch hashes them once for both uses).
 */
interface LiveHash {
  offset: number;
  algorithm: DigestAlgorithm;
  hash: Hash | null;
  given?: Promise<Digest>;
}

export class UploadService {
  private readonly hashes = new Map<string, LiveHash>();
  private readonly lock = new KeyedLock();

  constructor(
    private readonly core: RegistryCore,
    private readonly quota: QuotaService,
  ) {}

  async start(repo: string, algorithm: DigestAlgorithm = 'sha256', owner?: string): Promise<UploadRecord> {
    const max = this.core.options.uploadsPerCaller ?? 0;
    if (owner && max > 0 && (await this.core.meta.uploads.countByOwner(owner)) >= max) {
      const message = `${max} upload sessions are open already; finish or cancel some first`;
      throw new OciError('TOOMANYREQUESTS', message, { limit: max });
    }
    const t = this.core.now();
    const rec: UploadRecord = { id: randomUUID(), repo, offset: 0, createdAt: t, updatedAt: t, owner: owner ?? null };
    await this.core.meta.uploads.create(rec);
    this.hashes.set(rec.id, { offset: 0, algorithm, hash: newHasher(algorithm) });
    return rec;
  }

  /** The session of `id` in `repo`, or BLOB_UPLOAD_UNKNOWN (also for sessions whose bytes vanished). */
  async get(repo: string, id: string): Promise<UploadRecord> {
    const rec = await this.core.meta.uploads.get(id);
    if (!rec || rec.repo !== repo) throw unknownUpload(id);
    return rec;
  }

  /**
   * Appends a chunk. `range` (inclusive) must start at the current offset, else RANGE_INVALID (416).
   * Resolves to the new durable offset.
   */
  async patch(repo: string, id: string, body: Readable, range?: ByteRange, contentLength?: number): Promise<number> {
    return this.lock.run(id, async () => {
      const rec = await this.get(repo, id);
      const offset = await this.appendChecked(rec, body, range, contentLength);
      await this.core.meta.uploads.update(id, offset, this.core.now());
      return offset;
    });
  }

  /** Closes an upload with an optional last chunk; verifies digest and size; the blob becomes visible. */
  async complete(
    repo: string,
    id: string,
    digest: Digest,
    body?: Readable,
    range?: ByteRange,
    contentLength?: number,
  ): Promise<number> {
    const { blobs, meta } = this.core;
    return this.lock.run(id, async () => {
      const rec = await this.get(repo, id);
      const offset = body ? await this.appendChecked(rec, body, range, contentLength) : rec.offset;
      const actual = await this.uploadDigest(rec, offset, digestAlgorithm(digest));
      if (actual !== digest) {
        await this.drop(id);
        throw new OciError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`, { digest });
      }
      if (offset === 0 && (await blobs.uploadSize(id)) === null) {
        // A zero-length blob closed without any PATCH: the upload has no bytes in storage yet.
        await blobs.writeUpload(id, 0, Readable.from([]));
      }
      // Under the digest's lock: a GC sweeping this digest either finished (we write fresh bytes) or
      // has not started (addBlob revives the row and the sweep then leaves it alone).
      try {
        await this.quota.within(repo, digest, offset, () =>
          this.core.digestLock.run(digest, async () => {
            await blobs.commitUpload(id, digest, offset);
            const target = {
              kind: 'blob',
              repository: repo,
              digest,
              size: offset,
              mediaType: BLOB_MEDIA_TYPE,
            } as const;
            const events = this.core.events('push', target);
            await meta.blobs.add(repo, digest, offset, this.core.now() + this.core.graceMs, events);
          }),
        );
      } catch (e) {
        if (e instanceof OciError && e.code === 'DENIED') await this.drop(id);
        throw e;
      }
      await meta.uploads.delete(id);
      this.hashes.delete(id);
      return offset;
    });
  }

  /**
   * POST ?digest= : the whole blob in one request. `hashed`: the digest the caller computes of exactly the chunks
   * `body` yields (it must hash every chunk it writes, and only those); the stored bytes are checked against it
   * (and their count against what the store wrote) instead of being hashed a second time.
   */
  async monolithic(
    repo: string,
    digest: Digest,
    body: Readable,
    contentLength?: number,
    hashed?: Promise<Digest>,
  ): Promise<number> {
    const rec = await this.start(repo, digestAlgorithm(digest));
    if (hashed) this.hashes.set(rec.id, { offset: 0, algorithm: digestAlgorithm(digest), hash: null, given: hashed });
    try {
      return await this.complete(repo, rec.id, digest, body, undefined, contentLength);
    } catch (e) {
      await this.drop(rec.id);
      throw e;
    }
  }

  async cancel(repo: string, id: string): Promise<void> {
    await this.lock.run(id, async () => {
      await this.get(repo, id);
      await this.drop(id);
    });
  }

  /** Removes upload sessions idle since before `olderThanMs` ago, and upload bytes no session owns. */
  async purge(olderThanMs: number): Promise<number> {
    let n = 0;
    for (const rec of await this.core.meta.uploads.listStale(this.core.now() - olderThanMs)) {
      await this.lock.run(rec.id, () => this.drop(rec.id));
      n++;
    }
    for await (const id of this.core.blobs.listUploads()) {
      if (!(await this.core.meta.uploads.get(id))) {
        await this.lock.run(id, () => this.core.blobs.deleteUpload(id));
        n++;
      }
    }
    return n;
  }

  private async drop(id: string): Promise<void> {
    this.hashes.delete(id);
    await this.core.blobs.deleteUpload(id);
    await this.core.meta.uploads.delete(id);
  }

  /** Appends one chunk after checking it starts at the session's offset and has the announced length. */
  private async appendChecked(rec: UploadRecord, body: Readable, range?: ByteRange, contentLength?: number) {
    if (range && range.start !== rec.offset) {
      body.resume();
      throw new OciError('RANGE_INVALID', `chunk starts at ${range.start} but the upload has ${rec.offset} bytes`, {
        offset: rec.offset,
      });
    }
    const expected = range ? range.end - range.start + 1 : contentLength;
    const offset = await this.appendChunk(rec, body);
    if (expected !== undefined && offset - rec.offset !== expected) {
      // Not recorded: the next write starts again at rec.offset and cuts these bytes.
      this.hashes.delete(rec.id);
      throw new OciError('SIZE_INVALID', `chunk had ${offset - rec.offset} bytes, expected ${expected}`);
    }
    return offset;
  }

  private async appendChunk(rec: UploadRecord, body: Readable): Promise<number> {
    let live = this.hashes.get(rec.id);
    if (live && live.offset !== rec.offset) {
      this.hashes.delete(rec.id);
      live = undefined;
    }
    if (!live && rec.offset === 0) {
      live = { offset: 0, algorithm: 'sha256', hash: newHasher('sha256') };
      this.hashes.set(rec.id, live);
    }
    const max = this.core.options.blobMaxBytes;
    const counter = new HashingCounter(live?.hash ?? null, max > 0 ? max - rec.offset : 0);
    // The store attaches its pipeline only after opening the file: until then an error (limit
    // exceeded, client gone) must have a listener, or it would be an uncaught 'error' event.
    counter.on('error', () => {});
    body.once('error', (e) => counter.destroy(e));
    body.pipe(counter);
    try {
      const size = await this.core.blobs.writeUpload(rec.id, rec.offset, counter);
      if (live) live.offset = size;
      return size;
    } catch (e) {
      this.hashes.delete(rec.id);
      throw await this.vanished(rec.id, e);
    }
  }

  /** The digest of the first `length` bytes: from the live hasher if it is exact, else re-read from storage. */
  private async uploadDigest(rec: UploadRecord, length: number, algorithm: DigestAlgorithm): Promise<Digest> {
    const live = this.hashes.get(rec.id);
    if (live && live.offset === length && live.algorithm === algorithm) {
      this.hashes.delete(rec.id);
      return live.given ? await live.given : finishDigest(algorithm, live.hash!);
    }
    const hash = newHasher(algorithm);
    if (length > 0) {
      let stream: Readable;
      try {
        stream = await this.core.blobs.readUpload(rec.id, length);
      } catch (e) {
        throw await this.vanished(rec.id, e);
      }
      for await (const chunk of stream) hash.update(chunk as Buffer);
    }
    return finishDigest(algorithm, hash);
  }

  /**
   * The error to throw for a storage failure of upload `id`: when its bytes are gone (the session row
   * outlived them: a crash between commit and cleanup), the row goes too and the upload is unknown.
   */
  private async vanished(id: string, e: unknown): Promise<unknown> {
    if (!(e instanceof StorageNotFoundError)) return e;
    await this.core.meta.uploads.delete(id);
    return unknownUpload(id);
  }
}

function unknownUpload(id: string): OciError {
  return new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${id} unknown`, { uuid: id });
}
