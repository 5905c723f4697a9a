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
