// Per-caller request rate limits on /v2: fixed windows counted in memory, or across replicas in the metadata store.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OciError } from '../oci/errors.js';
import { errorBody } from './errors.js';
import type { V2Route } from './route.js';

/**
 * What a limit counts: manifest GETs (Docker Hub's "pulls"; a HEAD is not one), pushes, deletes, or every /v2 request.
 */
export type LimitedAction = 'pull' | 'push' | 'delete' | 'request';

export interface RateLimit {
  action: LimitedAction;
  limit: number;
  windowMs: number;
  /** Count per caller (user name, or address when anonymous; the default) or per client address always. */
  per?: 'caller' | 'address';
}

/**
 * Counters every replica shares (the metadata store's, on PostgreSQL): windows aligned to the clock
 * (`floor(now / window)`), so replicas agree on where one starts; `hit` never counts past the limit.
 */
export interface RateCounters {
  /** The count after adding this request, or null when the window was full (nothing added). */
  hit(key: string, windowStart: number, windowMs: number, limit: number): Promise<number | null>;
  peek(key: string, windowStart: number): Promise<number>;
}

/** One window's state as the answer reports it. */
interface Window {
  start: number;
  /** Requests counted, this one included (the limit when it was refused). */
  count: number;
  /** This request was over the limit. */
  refused: boolean;
}

function actionsOf(method: string, route: V2Route | null): LimitedAction[] {
  const out: LimitedAction[] = ['request'];
  if (route?.kind !== 'manifest') return out;
  if (method === 'GET') out.push('pull');
  else if (method === 'PUT') out.push('push');
  else if (method === 'DELETE') out.push('delete');
  return out;
}

/** Windows in this process's memory, starting at a caller's first request (exact for one process). */
function memoryWindows(limits: RateLimit[]) {
  const windows = new Map<string, { start: number; count: number }>();
  const longest = Math.max(...limits.map((l) => l.windowMs));
  let prunedAt = Date.now();
  return {
    async hit(key: string, l: RateLimit, now: number): Promise<Window> {
      // Expired windows go at most once per longest window, so the map holds only live callers.
      if (now - prunedAt >= longest) {
        prunedAt = now;
        for (const [k, w] of windows) if (now - w.start >= longest) windows.delete(k);
      }
      let w = windows.get(key);
      if (!w || now - w.start >= l.windowMs) {
        w = { start: now, count: 0 };
        windows.set(key, w);
      }
      if (w.count >= l.limit) return { start: w.start, count: w.count, refused: true };
      w.count++;
      return { start: w.start, count: w.count, refused: false };
    },
    async peek(key: string, l: RateLimit, now: number): Promise<number> {
      const w = windows.get(key);
      return w && now - w.start < l.windowMs ? w.count : 0;
    },
  };
}

/** Windows in the shared store: one upsert per limit and request. */
function sharedWindows(counters: RateCounters) {
  const startOf = (l: RateLimit, now: number) => Math.floor(now / l.windowMs) * l.windowMs;
  return {
    async hit(key: string, l: RateLimit, now: number): Promise<Window> {
      const start = startOf(l, now);
      const count = await counters.hit(key, start, l.windowMs, l.limit);
      return count === null ? { start, count: l.limit, refused: true } : { start, count, refused: false };
    },
    async peek(key: string, l: RateLimit, now: number): Promise<number> {
      return counters.peek(key, startOf(l, now));
    },
  };
}

function refuse(reply: FastifyReply, l: RateLimit, w: Window, now: number) {
  const seconds = Math.round(l.windowMs / 1000);
  const retry = Math.max(1, Math.ceil((w.start + l.windowMs - now) / 1000));
  return reply
    .code(429)
    .header('retry-after', retry)
    .header('ratelimit-limit', `${l.limit};w=${seconds}`)
    .header('ratelimit-remaining', `0;w=${seconds}`)
    .header('content-type', 'application/json')
    .send(
      errorBody(
        new OciError('TOOMANYREQUESTS', `${l.action} limit of ${l.limit} per ${seconds}s reached; retry in ${retry}s`, {
          retryAfter: retry,
        }),
      ),
    );
}

/**
 * Fixed-window counters per caller (user name when authenticated, else client address) and action: in memory,
 * or, given `counters` (replicas sharing PostgreSQL), in the store so every replica counts the same windows.
 * Answers carry Docker Hub's `RateLimit-Limit: N;w=SECONDS` and `RateLimit-Remaining`; over the limit: 429
 * TOOMANYREQUESTS with `Retry-After`.
 */
export function installRateLimits(app: FastifyInstance, limits: RateLimit[], counters?: RateCounters): void {
  if (limits.length === 0) return;
  const windows = counters ? sharedWindows(counters) : memoryWindows(limits);
  const callerOf = (req: FastifyRequest) => (req.kuraCaller?.who ? `user:${req.kuraCaller.who}` : `addr:${req.ip}`);
  // Fields joined by U+001F (PostgreSQL text holds no NUL).
  const keyOf = (req: FastifyRequest, l: RateLimit) =>
    [l.per === 'address' ? `addr:${req.ip}` : callerOf(req), l.action, l.windowMs, l.per ?? 'caller'].join('\u001f');

  app.addHook('onRequest', async (req, reply) => {
    // The /v2 API by its matched route (the token endpoint has its own lockout).
    if (req.kura.family !== 'v2') return;
    const actions = actionsOf(req.method, req.kura.v2);
    // A HEAD of a manifest is no pull, but reports the pull limit, as Docker Hub's does (`kura ratelimit`).
    const peek =
      req.method === 'HEAD' && req.kura.v2?.kind === 'manifest' ? limits.filter((l) => l.action === 'pull') : [];
    const now = Date.now();
    for (const l of limits) {
      if (!actions.includes(l.action)) continue;
      const w = await windows.hit(keyOf(req, l), l, now);
      if (w.refused) return refuse(reply, l, w, now);
      // The headers name the most specific limit: a pull limit rather than the general request one.
      if (l.action !== 'request' || !limits.some((o) => o.action !== 'request' && actions.includes(o.action))) {
        const seconds = Math.round(l.windowMs / 1000);
        reply
          .header('ratelimit-limit', `${l.limit};w=${seconds}`)
          .header('ratelimit-remaining', `${l.limit - w.count};w=${seconds}`);
      }
    }
    for (const l of peek) {
      const used = await windows.peek(keyOf(req, l), l, now);
      const seconds = Math.round(l.windowMs / 1000);
      reply
        .header('ratelimit-limit', `${l.limit};w=${seconds}`)
        .header('ratelimit-remaining', `${Math.max(0, l.limit - used)};w=${seconds}`);
    }
  });
}
