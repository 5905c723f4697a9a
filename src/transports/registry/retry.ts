/**
 * When and how long to wait before trying a registry request again: 429 and the 5xx statuses that
 * mean "busy" or "a proxy lost it", and connection errors that happen to healthy servers. Exponential
 * backoff with jitter, and the server's own Retry-After (seconds or an HTTP date) when it gives one.
 */
import { abortReason } from './errors.js';

/** How a client retries. */
export interface RetryOptions {
  /** Tries in all, the first one included (default 5). */
  attempts?: number;
  /** First backoff, doubled each time (default 250 ms). */
  baseDelayMs?: number;
  /** Cap of one backoff (default 8 s). */
  maxDelayMs?: number;
  /** Cap of one wait asked for by Retry-After (default 60 s). */
  maxRetryAfterMs?: number;
  /** How a wait between tries is waited (default a timer; tests record the waits instead). Rejects when aborted. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The clock Retry-After dates are read against (default Date.now). */
  now?: () => number;
}

export const RETRY_DEFAULTS: Required<RetryOptions> = {
  attempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  maxRetryAfterMs: 60_000,
  sleep,
  now: () => Date.now(),
};

/** HTTP statuses worth another try. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

/** Connection errors that a second try may not meet (a reset, a closed keep-alive socket, a timeout). */
const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN']);

/** The error code of a (possibly wrapped) network error. */
export function networkCode(e: unknown): string | undefined {
  for (let x = e as { code?: unknown; cause?: unknown } | undefined, i = 0; x && i < 4; x = x.cause as typeof x, i++) {
    if (typeof x.code === 'string') return x.code;
  }
  return undefined;
}

/** True for connection errors that a retry may cure; "refused" and "no such host" are not. */
export function isTransientNetworkError(e: unknown): boolean {
  const code = networkCode(e);
  if (code && TRANSIENT.has(code)) return true;
  return /other side closed|socket hang up|premature close|\bEOF\b/i.test((e as Error)?.message ?? '');
}

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or undefined. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * True when the server asks for a wait longer than one wait may be (`maxRetryAfterMs`): waiting it
 * out in silence helps nobody, so the request fails at once and the error says until when.
 */
export function beyondRetryBudget(
  header: string | string[] | undefined,
  o: Required<RetryOptions>,
  now = Date.now(),
): boolean {
  const ms = retryAfterMs(header, now);
  return ms !== undefined && ms > o.maxRetryAfterMs;
}

/** "until 02:14 UTC (in 5 h 50 m)" for a Retry-After header, or undefined without one. */
export function retryAfterText(header: string | string[] | undefined, now = Date.now()): string | undefined {
  const ms = retryAfterMs(header, now);
  if (ms === undefined) return undefined;
  const at = new Date(now + ms);
  const day = ms >= 20 * 3600_000 ? `${at.toISOString().slice(0, 10)} ` : '';
  const mins = Math.ceil(ms / 60_000);
  const left =
    ms < 60_000 ? `${Math.ceil(ms / 1000)} s` : mins < 60 ? `${mins} m` : `${Math.floor(mins / 60)} h ${mins % 60} m`;
  return `until ${day}${at.toISOString().slice(11, 16)} UTC (in ${left})`;
}

/** The wait before try number `attempt + 1` (attempt counts from 1): Retry-After if given, else backoff with jitter. */
export function retryDelayMs(attempt: number, retryAfter: number | undefined, o: Required<RetryOptions>): number {
  if (retryAfter !== undefined) return Math.min(retryAfter, o.maxRetryAfterMs);
  const exp = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1));
  // Half fixed, half random: spreads a crowd of clients without ever waiting (almost) nothing.
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((r) => setTimeout(r, ms));
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(t);
      reject(abortReason(signal));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
