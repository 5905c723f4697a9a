// In-memory state the memory metadata tables share: repositories with their links, manifests and tags, and blob rows.
import type { Digest } from '../../oci/digest.js';
import { compareBytewise } from '../page.js';
import type { BlobState, ManifestRecord, ManifestRefs, OutboxEntry, OutboxEvent, Page } from '../types.js';

/** Applies `last`/`n` to an already sorted list. */
export function paginate(sorted: readonly string[], page: Page): string[] {
  let start = 0;
  if (page.last !== undefined) {
    // First index whose value is strictly greater than `last`.
    let hi = sorted.length;
    while (start < hi) {
      const mid = (start + hi) >>> 1;
      if (compareBytewise(sorted[mid]!, page.last) <= 0) start = mid + 1;
      else hi = mid;
    }
  }
  const end = page.n === undefined ? sorted.length : start + page.n;
  return sorted.slice(start, end);
}

/** A sorted view of a set of names, rebuilt lazily after changes so repeated pagination stays cheap. */
export class SortedNames {
  private sorted: string[] | null = null;
  invalidate(): void {
    this.sorted = null;
  }
  get(names: Iterable<string>): string[] {
    this.sorted ??= [...names].sort(compareBytewise);
    return this.sorted;
  }
}

export interface StoredBlob {
  size: number;
  state: BlobState;
  createdAt: number;
  leasedUntil: number;
}

export interface StoredManifest {
  rec: ManifestRecord;
  refs: ManifestRefs;
  pulledAt: number | null;
}

export interface StoredEvent {
  ev: OutboxEvent;
  nextAt: number;
  owner: string | null;
  leasedUntil: number;
}

export interface Repo {
  /** Digests linked to the repository (readable through it). */
  blobs: Set<Digest>;
  manifests: Map<Digest, StoredManifest>;
  tags: Map<string, Digest>;
  sortedTags: SortedNames;
}

/**
 * The shared tables. Every table method runs synchronously to completion before its promise
 * settles, which is what makes each one atomic, including those that touch several maps.
 */
export class MemoryDb {
  readonly repos = new Map<string, Repo>();
  readonly sortedRepos = new SortedNames();
  readonly blobs = new Map<Digest, StoredBlob>();
  /** The events outbox by id (a Map keeps insertion order, which is id order). */
  readonly outbox = new Map<number, StoredEvent>();
  private lastEventId = 0;

  /** `now`: the clock rows are stamped with (Date.now unless a test injects one). */
  constructor(readonly now: () => number = Date.now) {}

  ensureRepo(name: string): Repo {
    let repo = this.repos.get(name);
    if (repo === undefined) {
      repo = { blobs: new Set(), manifests: new Map(), tags: new Map(), sortedTags: new SortedNames() };
      this.repos.set(name, repo);
      this.sortedRepos.invalidate();
    }
    return repo;
  }

  /** Writes outbox events (memory/events.ts reads them). */
  appendEvents(entries: OutboxEntry[] = []): void {
    for (const e of entries) {
      const id = ++this.lastEventId;
      const ev = { ...e, id, attempts: 0, createdAt: this.now() };
      this.outbox.set(id, { ev, nextAt: 0, owner: null, leasedUntil: 0 });
    }
  }

  /** Inserts a blob row if absent; revives it and extends its lease either way. */
  recordBlob(digest: Digest, size: number, leaseUntil: number): void {
    const b = this.blobs.get(digest);
    if (b === undefined) {
      this.blobs.set(digest, { size, state: 'live', createdAt: this.now(), leasedUntil: leaseUntil });
    } else {
      b.state = 'live';
      b.leasedUntil = Math.max(b.leasedUntil, leaseUntil);
    }
  }
}
