// In-memory blobs and their repository links.
import type { Digest } from '../../oci/digest.js';
import type { BlobTable, OutboxEntry } from '../types.js';
import type { MemoryDb } from './db.js';

export class MemoryBlobTable implements BlobTable {
  constructor(private readonly db: MemoryDb) {}

  async add(repo: string, digest: Digest, size: number, leaseUntil = 0, events?: OutboxEntry[]): Promise<void> {
    this.db.recordBlob(digest, size, leaseUntil);
    this.db.ensureRepo(repo).blobs.add(digest);
    this.db.appendEvents(events);
  }

  async get(repo: string, digest: Digest): Promise<number | null> {
    if (this.db.repos.get(repo)?.blobs.has(digest) !== true) return null;
    return this.db.blobs.get(digest)?.size ?? null;
  }

  async getGlobal(digest: Digest): Promise<number | null> {
    return this.db.blobs.get(digest)?.size ?? null;
  }

  async repositories(digest: Digest, limit: number): Promise<string[]> {
    if (this.db.blobs.get(digest)?.state !== 'live') return [];
    const names = [...this.db.repos].filter(([, r]) => r.blobs.has(digest)).map(([name]) => name);
    return names.sort().slice(0, limit);
  }

  async unlink(repo: string, digest: Digest, events?: OutboxEntry[]): Promise<boolean> {
    const done = this.db.repos.get(repo)?.blobs.delete(digest) ?? false;
    if (done) this.db.appendEvents(events);
    return done;
  }
}
