import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { OciError } from '../oci/errors.js';
import { parseV2Path, type V2Route } from './route.js';
import { BAD_TARGET_PATH, canonicalTarget, type RouteFamily } from './target.js';

/** The one parsed view of a request, made once and shared by auth, rate limits, audit and handlers. */
export interface RouteContext {
  /** From the matched route's config, never from the path text. */
  family: RouteFamily;
  /** The canonical path (see target.ts) and its query. */
  path: string;
  query: URLSearchParams;
  /** For the v2 family below /v2/: the API route, null when the path names none, or the name error to answer. */
  v2: V2Route | null;
  v2Error: OciError | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    kura: RouteContext;
  }
  interface FastifyContextConfig {
    family?: RouteFamily;
  }
}

const badTargets = new WeakMap<IncomingMessage, { raw: string; reason: string; segment?: number }>();

/** fastify's `rewriteUrl`: the canonical target, or the path of the 400 answer for a refused one. */
export function rewriteTarget(req: IncomingMessage): string {
  const t = canonicalTarget(req.url ?? '');
  if (t.ok) return t.url;
  badTargets.set(req, { raw: req.url ?? '', reason: t.reason, segment: t.segment });
  return BAD_TARGET_PATH;
}

/** A Host header a URL can be built from (name or address, optional port); anything else is refused. */
const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const CONTEXT = Symbol('kura.context');

/** Builds a request's context from its canonical URL and the route that matched. */
function buildContext(req: FastifyRequest): RouteContext {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const family: RouteFamily = req.routeOptions.config?.family ?? 'open';
  let v2: V2Route | null = null;
  let v2Error: OciError | null = null;
  if (family === 'v2' && path.startsWith('/v2/')) {
    try {
      v2 = parseV2Path(path.slice('/v2/'.length));
    } catch (e) {
      v2Error = e instanceof OciError ? e : new OciError('NAME_INVALID', String(e));
    }
  }
  return { family, path, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)), v2, v2Error };
}

/** A Host header that is not a plain host[:port] (challenges build URLs from it): the error to answer, or null. */
export function badHost(req: FastifyRequest): OciError | null {
  const host = req.headers.host;
  return host !== undefined && !HOST_RE.test(host) ? new OciError('BAD_REQUEST', 'invalid Host header') : null;
}

/**
 * `req.kura`, built on first use and kept: no hook runs for it, so an open registry's hot routes pay
 * for no hook at all (a fastify hook costs ~15 µs a request here). On TLS, one hook adds HSTS.
 */
export function installRouteContext(app: FastifyInstance, opts: { tls: boolean }): void {
  app.decorateRequest('kura', {
    getter(this: FastifyRequest & { [CONTEXT]?: RouteContext }) {
      return (this[CONTEXT] ??= buildContext(this));
    },
  });
  if (opts.tls) {
    app.addHook('onRequest', (_req, reply, done) => {
      reply.header('strict-transport-security', 'max-age=31536000');
      done();
    });
  }
  // Every refused target lands here (see rewriteTarget), whatever its method.
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE', 'OPTIONS'],
    url: BAD_TARGET_PATH,
    config: { family: 'open' },
    handler: async (req) => {
      req.raw.resume();
      throw refusal(badTargets.get(req.raw));
    },
  });
}

/**
 * The error for a refused target. It is refused whatever it says; below a literal /v2/ the error
 * code names the part that is wrong, as the distribution spec's clients expect (a bad repository
 * name is NAME_INVALID, a bad tag TAG_INVALID, a bad upload id an unknown upload).
 */
function refusal(bad: { raw: string; reason: string; segment?: number } | undefined): OciError {
  const msg = `invalid request target: ${bad?.reason ?? 'not a canonical path'}`;
  if (!bad || bad.segment === undefined || !bad.raw.startsWith('/v2/')) return new OciError('BAD_REQUEST', msg);
  const segs = bad.raw.split(/[?#]/)[0]!.split('/');
  const i = bad.segment;
  const last = i === segs.length - 1;
  if (last && segs[i - 1] === 'uploads' && segs[i - 2] === 'blobs') return new OciError('BLOB_UPLOAD_UNKNOWN', msg);
  if (last && segs[i - 1] === 'manifests') return new OciError('TAG_INVALID', msg);
  if (last && (segs[i - 1] === 'blobs' || segs[i - 1] === 'referrers')) return new OciError('DIGEST_INVALID', msg);
  return new OciError('NAME_INVALID', msg);
}
