// What stores that several processes share offer beyond the role tables: locks and counters across replicas.

/** Locks held across processes: `run` waits for the named lock, runs `fn`, releases it (also when `fn` throws). */
export interface SharedLocks {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** Fixed-window counters across processes (rate limits). */
export interface SharedCounters {
  /**
   * Adds one to the counter `key` of the window starting at `windowStart` (`windowMs` long) unless it already
   * reached `limit`; resolves to the count after the call, or null when it was full (nothing added).
   */
  hit(key: string, windowStart: number, windowMs: number, limit: number): Promise<number | null>;
  /** The count of `key` in the window starting at `windowStart` (0 when none). */
  peek(key: string, windowStart: number): Promise<number>;
}

/**
 * Removals of blob links (a blob unlinked from a repository, marked or dropped by GC, however it happened) that
 * committed in any process sharing the store: PostgreSQL delivers them through LISTEN/NOTIFY. A subscriber keeps a
 * cache of links exact with it: it evicts on `gone`, and uses the cache only while `connected(true)` holds.
 */
export interface BlobGoneFeed {
  /** Starts the feed (on first use) and adds a listener; the function returned removes it. */
  subscribe(listener: BlobGoneListener): () => void;
}

export interface BlobGoneListener {
  /** These digests lost links (in some repository; `'all'`: any may have). Called after the commit. */
  gone(digests: readonly string[] | 'all'): void;
  /**
   * true: the feed listens, every removal committed from now on will be reported; false: it lost its connection,
   * removals may go unreported until it says true again.
   */
  connected(up: boolean): void;
}
