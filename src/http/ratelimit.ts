import type { FastifyInstance, FastifyRequest } from 'fastify';
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

function actionsOf(method: string, route: V2Route | null): LimitedAction[] {
  const out: LimitedAction[] = ['request'];
  if (route?.kind !== 'manifest') return out;
  if (method === 'GET') out.push('pull');
  else if (method === 'PUT') out.push('push');
  else if (method === 'DELETE') out.push('delete');
  return out;
}

/**
 * Fixed-window counters per caller (user name when authenticated, else client address) and action,
 * in memory. Answers carry Docker Hub's `RateLimit-Limit: N;w=SECONDS` and `RateLimit-Remaining`;
 * over the limit: 429 TOOMANYREQUESTS with `Retry-After`.
 */
export function installRateLimits(app: FastifyInstance, limits: RateLimit[]): void {
  if (limits.length === 0) return;
  const windows = new Map<string, { start: number; count: number }>();
  const keyOf = (req: FastifyRequest) => (req.kuraCaller?.who ? `user:${req.kuraCaller.who}` : `addr:${req.ip}`);

  const longest = Math.max(...limits.map((l) => l.windowMs));
  let prunedAt = Date.now();
  app.addHook('onRequest', async (req, reply) => {
    // The /v2 API by its matched route (the token endpoint has its own lockout).
    if (req.kura.family !== 'v2') return;
    const actions = actionsOf(req.method, req.kura.v2);
    // A HEAD of a manifest is no pull, but reports the pull limit, as Docker Hub's does (`kura ratelimit`).
    const peek =
      req.method === 'HEAD' && req.kura.v2?.kind === 'manifest' ? limits.filter((l) => l.action === 'pull') : [];
    const now = Date.now();
    // Expired windows go at most once per longest window, so the map holds only live callers.
    if (now - prunedAt >= longest) {
      prunedAt = now;
      for (const [k, w] of windows) if (now - w.start >= longest) windows.delete(k);
    }
    const who = keyOf(req);
    for (const l of limits) {
      if (!actions.includes(l.action)) continue;
      const key = `${l.per === 'address' ? `addr:${req.ip}` : who}\0${l.action}\0${l.windowMs}\0${l.per ?? 'caller'}`;
      let w = windows.get(key);
      if (!w || now - w.start >= l.windowMs) {
        w = { start: now, count: 0 };
        windows.set(key, w);
      }
      const seconds = Math.round(l.windowMs / 1000);
      if (w.count >= l.limit) {
        const retry = Math.max(1, Math.ceil((w.start + l.windowMs - now) / 1000));
        return reply
          .code(429)
          .header('retry-after', retry)
          .header('ratelimit-limit', `${l.limit};w=${seconds}`)
          .header('ratelimit-remaining', `0;w=${seconds}`)
          .header('content-type', 'application/json')
          .send(
            errorBody(
              new OciError(
                'TOOMANYREQUESTS',
                `${l.action} limit of ${l.limit} per ${seconds}s reached; retry in ${retry}s`,
                { retryAfter: retry },
              ),
            ),
          );
      }
      w.count++;
      // The headers name the most specific limit: a pull limit rather than the general request one.
      if (l.action !== 'request' || !limits.some((o) => o.action !== 'request' && actions.includes(o.action))) {
        reply
          .header('ratelimit-limit', `${l.limit};w=${seconds}`)
          .header('ratelimit-remaining', `${l.limit - w.count};w=${seconds}`);
      }
    }
    for (const l of peek) {
      const w = windows.get(
        `${l.per === 'address' ? `addr:${req.ip}` : who}\0${l.action}\0${l.windowMs}\0${l.per ?? 'caller'}`,
      );
      const used = w && now - w.start < l.windowMs ? w.count : 0;
      const seconds = Math.round(l.windowMs / 1000);
      reply
        .header('ratelimit-limit', `${l.limit};w=${seconds}`)
        .header('ratelimit-remaining', `${Math.max(0, l.limit - used)};w=${seconds}`);
    }
  });
}
