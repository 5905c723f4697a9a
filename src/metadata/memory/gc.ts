// In-memory garbage collection and fsck over blob rows and their states.
import type { Digest } from '../../oci/digest.js';
import { compareBytewise } from '../page.js';
import type { BlobState, GcStore } from '../types.js';
import type { MemoryDb, StoredBlob } from './db.js';

export class MemoryGcStore implements GcStore {
  constructor(private readonly db: MemoryDb) {}

  /** Every digest a manifest (in any repository) is or references. */
  private referenced(): Set<Digest> {
    const out = new Set<Digest>();
    for (const r of this.db.repos.values()) {
      for (const [d, m] of r.manifests) {
        out.add(d);
        for (const x of m.refs.blobs) out.add(x);
        for (const x of m.refs.manifests) out.add(x);
      }
    }
    return out;
  }

  private candidate(
    d: Digest,
    b: StoredBlob | undefined,
    now: number,
    cutoff: number,
    referenced: Set<Digest>,
  ): boolean {
    return b !== undefined && b.state === 'live' && b.createdAt < cutoff && b.leasedUntil < now && !referenced.has(d);
  }

  async candidates(now: number, cutoff: number): Promise<Digest[]> {
    const referenced = this.referenced();
    return [...this.db.blobs]
      .filter(([d, b]) => this.candidate(d, b, now, cutoff, referenced))
      .sort(([da, a], [db, b]) => a.createdAt - b.createdAt || compareBytewise(da, db))
      .map(([d]) => d);
  }

  async mark(digests: Digest[], now: number, cutoff: number): Promise<Digest[]> {
    const referenced = this.referenced();
    const marked: Digest[] = [];
    for (const d of digests) {
      const b = this.db.blobs.get(d);
      if (!this.candidate(d, b, now, cutoff, referenced)) continue;
      b!.state = 'deleting';
      for (const r of this.db.repos.values()) r.blobs.delete(d);
      marked.push(d);
    }
    return marked;
  }

  async listDeleting(): Promise<Digest[]> {
    return [...this.db.blobs]
      .filter(([, b]) => b.state === 'deleting')
      .map(([d]) => d)
      .sort(compareBytewise);
  }

  async state(digest: Digest): Promise<BlobState | null> {
    return this.db.blobs.get(digest)?.state ?? null;
  }

  async forget(digest: Digest): Promise<boolean> {
    if (this.db.blobs.get(digest)?.state !== 'deleting') return false;
    this.db.blobs.delete(digest);
    return true;
  }

  async recorded(digests: Digest[]): Promise<Set<Digest>> {
    return new Set(digests.filter((d) => this.db.blobs.has(d)));
  }

  async listBlobs(): Promise<{ digest: Digest; size: number; state: BlobState }[]> {
    return [...this.db.blobs]
      .map(([digest, b]) => ({ digest, size: b.size, state: b.state }))
      .sort((a, b) => compareBytewise(a.digest, b.digest));
  }

  async drop(digest: Digest): Promise<boolean> {
    for (const r of this.db.repos.values()) r.blobs.delete(digest);
    return this.db.blobs.delete(digest);
  }
}
