/** What keeps the cache from hammering an upstream: a token bucket (its request budget) and a circuit breaker. */

/** A token bucket: `capacity` requests at once, refilled at `capacity` per `windowMs`. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly capacity: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.at = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.at) * this.capacity) / this.windowMs);
    this.at = t;
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whole tokens left now. */
  left(): number {
    this.refill();
    return Math.floor(this.tokens);
  }

  /** Milliseconds until the next token. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * this.windowMs) / this.capacity);
  }
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker: after `threshold` failures in a row (or a 429 with Retry-After) it opens and refuses calls
 * until `openUntil`; then one trial call goes through (half-open), whose result closes or re-opens it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private trial = false;

  constructor(
    readonly threshold = 5,
    readonly cooldownMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.openUntil === 0) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half-open';
  }

  /** When the breaker lets calls through again (ms since the epoch), 0 when closed. */
  get retryAt(): number {
    return this.openUntil;
  }

  /** May a call go upstream now? In the half-open state only one trial at a time. */
  allow(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open' || this.trial) return false;
    this.trial = true;
    return true;
  }

  succeeded(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.trial = false;
  }

  /** A failed call; `retryAfterMs` (from a 429 or 503) opens the breaker at once for that long. */
  failed(retryAfterMs?: number): void {
    this.failures++;
    const wasTrial = this.trial;
    this.trial = false;
    if (retryAfterMs !== undefined && retryAfterMs > 0) {
      this.openUntil = this.now() + retryAfterMs;
    } else if (wasTrial || this.failures >= this.threshold) {
      this.openUntil = this.now() + this.cooldownMs;
    }
  }
}
