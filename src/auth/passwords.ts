import { createHmac, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';

/** bcrypt's own base64 alphabet, for dummy hashes. */
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The cost factor of a bcrypt hash (`$2b$10$…` → 10), or null when it is not one. */
export function bcryptCost(hash: string): number | null {
  const m = /^\$2[aby]\$(\d\d)\$/.exec(hash);
  return m ? Number(m[1]) : null;
}

/** A well-formed bcrypt hash of nothing anyone knows, at `cost`: comparing against it costs what a real one does. */
export function dummyHash(cost: number): string {
  const bytes = randomBytes(53);
  let s = '';
  for (const b of bytes) s += BCRYPT_ALPHABET[b % 64];
  return `$2b$${String(cost).padStart(2, '0')}$${s}`;
}

/** Too many password checks are waiting: the caller should answer 503 with Retry-After. */
export class VerifierBusyError extends Error {
  constructor() {
    super('too many password checks in progress; retry in a few seconds');
  }
}

export interface PasswordVerifierOptions {
  /** Worker threads (default: half the cores, at least 1). */
  threads?: number;
  /** Checks that may wait for a thread before new ones are refused (default 64). */
  maxQueue?: number;
  /** How long a successful check is remembered (default 60 s; 0: never). */
  cacheMs?: number;
}

/**
 * bcrypt comparisons on a small worker pool with a bounded queue, so password checks never stall
 * the event loop (security audit M6) and a flood is refused instead of queued without end. A
 * successful check is remembered briefly under an HMAC of (hash, password) with a per-process key,
 * so a client sending Basic credentials on every request pays bcrypt once a minute, and a changed
 * password (a new hash) never matches an old entry. Failures are never cached.
 */
export class PasswordVerifier {
  private pool: Promise<Piscina> | null = null;
  private readonly key = randomBytes(32);
  private readonly ok = new Map<string, number>();
  private readonly threads: number;
  private readonly maxQueue: number;
  private readonly cacheMs: number;

  constructor(opts: PasswordVerifierOptions = {}) {
    this.threads = opts.threads ?? Math.max(1, Math.floor(availableParallelism() / 2));
    this.maxQueue = opts.maxQueue ?? 64;
    this.cacheMs = opts.cacheMs ?? 60_000;
  }

  async compare(password: string, hash: string): Promise<boolean> {
    const id = createHmac('sha256', this.key).update(hash).update('\0').update(password).digest('base64url');
    const now = Date.now();
    const until = this.ok.get(id);
    if (until !== undefined && until > now) return true;
    // Loaded on first use: a registry that never checks a password never starts a worker.
    this.pool ??= import('piscina').then(
      ({ Piscina }) =>
        new Piscina({
          // By way of ../auth/ so that the path holds from dist/auth/ and from the CLI bundle in dist/bin/.
          filename: new URL('../auth/bcrypt-worker.js', import.meta.url).href,
          minThreads: 0,
          maxThreads: this.threads,
          maxQueue: this.maxQueue,
          idleTimeout: 30_000,
        }),
    );
    const pool = await this.pool;
    if (pool.queueSize >= this.maxQueue) throw new VerifierBusyError();
    let ok: boolean;
    try {
      ok = (await pool.run({ password, hash })) as boolean;
    } catch (e) {
      if (/queue is at limit/i.test((e as Error).message)) throw new VerifierBusyError();
      throw e;
    }
    if (ok && this.cacheMs > 0) {
      if (this.ok.size >= 10_000) for (const [k, t] of this.ok) if (t <= now) this.ok.delete(k);
      if (this.ok.size < 10_000) this.ok.set(id, now + this.cacheMs);
    }
    return ok;
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    await (await p)?.destroy();
  }
}
