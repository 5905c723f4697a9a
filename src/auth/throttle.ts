/** How failed authentications are limited (security audit M7). */
export interface LockoutOptions {
  /** Failures per key (client address, user name) within `windowMs` that lock the key; 0: never. */
  failures: number;
  windowMs: number;
  /** The first lock lasts `windowMs`; each further one twice the last, up to this. */
  maxLockMs: number;
}

interface Entry {
  windowStart: number;
  failures: number;
  lockedUntil: number;
  locks: number;
}

/**
 * Counts failed authentications per key (`addr:IP`, `user:NAME`) and locks a key that fails too
 * often, with exponential back-off. Checked before any password is compared, so a locked-out
 * guesser costs no bcrypt work. In memory, per process.
 */
export class FailureThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly opts: LockoutOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until every key may try again (0: now). */
  retryAfterMs(keys: string[]): number {
    if (this.opts.failures <= 0) return 0;
    const now = this.now();
    let wait = 0;
    for (const k of keys) {
      const e = this.entries.get(k);
      if (e && e.lockedUntil > now) wait = Math.max(wait, e.lockedUntil - now);
    }
    return wait;
  }

  fail(keys: string[]): void {
    if (this.opts.failures <= 0) return;
    const now = this.now();
    if (this.entries.size > 50_000) this.prune(now);
    for (const k of keys) {
      let e = this.entries.get(k);
      if (!e) this.entries.set(k, (e = { windowStart: now, failures: 0, lockedUntil: 0, locks: 0 }));
      if (now - e.windowStart >= this.opts.windowMs) {
        // A quiet window forgives earlier locks too, one step at a time.
        if (now - Math.max(e.windowStart, e.lockedUntil) >= 2 * this.opts.windowMs) e.locks = Math.max(0, e.locks - 1);
        e.windowStart = now;
        e.failures = 0;
      }
      e.failures++;
      if (e.failures >= this.opts.failures) {
        e.lockedUntil = now + Math.min(this.opts.windowMs * 2 ** e.locks, this.opts.maxLockMs);
        e.locks++;
        e.failures = 0;
        e.windowStart = now;
      }
    }
  }

  /** A successful login clears its user name's failures (not its address's). */
  succeed(key: string): void {
    const e = this.entries.get(key);
    if (e && e.lockedUntil <= this.now()) this.entries.delete(key);
  }

  private prune(now: number): void {
    for (const [k, e] of this.entries) {
      if (e.lockedUntil <= now && now - e.windowStart >= this.opts.windowMs) this.entries.delete(k);
    }
  }
}
