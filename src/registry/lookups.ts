/** The in-process caches of manifest and tag lookups and of blob links, never stale (see each class). */
import type { BlobGoneFeed, BlobGoneListener } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';

export class LookupCache {
  /** `kind\0repo\0reference` → value; cleared on every manifest or tag change. */
  private readonly map = new Map<string, object>();
  /** Bumped around every change, so a lookup that raced with a change is not cached. */
  private generation = 0;

  constructor(private readonly enabled: boolean) {}

  /**
   * A metadata read through the cache. Null results are not cached, and a read that overlapped a
   * change (the generation moved) is not either, so the cache is never stale.
   */
  async get<T extends object>(key: string, load: () => Promise<T | null>): Promise<T | null> {
    const hit = this.map.get(key);
    if (hit) return hit as T;
    const generation = this.generation;
    const value = await load();
    if (value !== null && this.enabled && generation === this.generation) {
      if (this.map.size >= 10_000) this.map.clear();
      this.map.set(key, value);
    }
    return value;
  }

  /** How many changes of manifests or tags this process has seen (it moves on every change, cached or not). */
  get changes(): number {
    return this.generation;
  }

  /** Call before and after every change of manifests or tags. */
  invalidate(): void {
    this.generation++;
    this.map.clear();
  }
}

/** Most (repository, digest) links a BlobLinkCache holds; the least recently used go first. */
export const BLOB_LINKS_MAX = 50_000;

/**
 * The replica-local cache of blob links, (repository, digest) → size, for blob HEADs and GETs when replicas share
 * the metadata (PostgreSQL). It stays exact through the store's BlobGoneFeed: every committed removal of a link, by
 * any replica, evicts that digest (in every repository); while the feed is not connected the cache is empty and
 * bypassed. A read is kept only when the feed was connected throughout and nothing was evicted meanwhile (the
 * generation did not move), so a read that raced with a removal is never cached after it. Without a feed (one
 * process: SQLite, memory) every read goes to the store.
 */
export class BlobLinkCache implements BlobGoneListener {
  /** digest → repository → size; a Map's order is its LRU order (a hit moves the digest to the end). */
  private readonly map = new Map<Digest, Map<string, number>>();
  private links = 0;
  private generation = 0;
  private live = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private feed: BlobGoneFeed | undefined,
    private readonly max = BLOB_LINKS_MAX,
  ) {}

  async get(repo: string, digest: Digest, load: () => Promise<number | null>): Promise<number | null> {
    if (this.feed) {
      // Subscribed on first use: commands that open the store without reading blobs open no LISTEN connection.
      this.unsubscribe = this.feed.subscribe(this);
      this.feed = undefined;
    }
    const repos = this.map.get(digest);
    const hit = repos?.get(repo);
    if (hit !== undefined) {
      this.map.delete(digest);
      this.map.set(digest, repos!);
      return hit;
    }
    const generation = this.generation;
    const live = this.live;
    const size = await load();
    if (size !== null && live && generation === this.generation) this.fill(repo, digest, size);
    return size;
  }

  private fill(repo: string, digest: Digest, size: number): void {
    let repos = this.map.get(digest);
    if (!repos) this.map.set(digest, (repos = new Map()));
    if (!repos.has(repo)) this.links++;
    repos.set(repo, size);
    for (const [oldest, its] of this.map) {
      if (this.links <= this.max) break;
      this.map.delete(oldest);
      this.links -= its.size;
    }
  }

  gone(digests: readonly string[] | 'all'): void {
    this.generation++;
    if (digests === 'all') return this.clear();
    for (const d of digests) {
      const its = this.map.get(d as Digest);
      if (its) this.links -= its.size;
      this.map.delete(d as Digest);
    }
  }

  connected(up: boolean): void {
    this.generation++;
    this.live = up;
    this.clear();
  }

  /** Links held now (tests, diagnostics). */
  get size(): number {
    return this.links;
  }

  close(): void {
    this.feed = undefined;
    this.unsubscribe?.();
    this.live = false;
    this.clear();
  }

  private clear(): void {
    this.map.clear();
    this.links = 0;
  }
}
