/** Per-key locks: in one process (KeyedLock), or across every process sharing the metadata store (SharedKeyedLock). */
import type { SharedLocks } from '../metadata/types.js';

/** What the services need of a lock: run a function while holding a key. */
export interface Locks {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** Serialises async work per key inside one process (e.g. two PATCHes racing on one upload). */
export class KeyedLock implements Locks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for the key, then resolves to the function that releases it. */
  async acquire(key: string): Promise<() => void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * A lock held across replicas (the store's SharedLocks, e.g. PostgreSQL advisory locks) under a name space
 * (`digest:`, `quota:`), taken after this process's own lock on the key, so the store sees one holder per process.
 */
export class SharedKeyedLock implements Locks {
  private readonly local = new KeyedLock();

  constructor(
    private readonly shared: SharedLocks,
    private readonly space: string,
  ) {}

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.local.run(key, () => this.shared.run(`${this.space}:${key}`, fn));
  }
}

/** The lock for a name space: shared when the store has shared locks, else this process's own. */
export function locksFor(shared: SharedLocks | undefined, space: string): Locks {
  return shared ? new SharedKeyedLock(shared, space) : new KeyedLock();
}
