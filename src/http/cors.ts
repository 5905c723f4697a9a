import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface CorsOptions {
  /** Origins allowed to call the registry API from a browser (exact, e.g. https://ui.example:8443), or "*". */
  origins: string[];
  /** Whether browsers may send credentials (cookies, HTTP auth) along; never with "*". */
  credentials: boolean;
  /** How long browsers may cache a preflight answer (seconds). */
  maxAgeSeconds: number;
}

/** Headers a registry client needs to read from answers. */
const EXPOSED = [
  'Docker-Content-Digest',
  'Docker-Distribution-Api-Version',
  'Docker-Upload-UUID',
  'Location',
  'Link',
  'Range',
  'Content-Range',
  'Content-Length',
  'WWW-Authenticate',
  'OCI-Subject',
  'OCI-Tag',
  'OCI-Filters-Applied',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'Retry-After',
  'ETag',
].join(', ');
const METHODS = 'GET, HEAD, PUT, PATCH, POST, DELETE';
const HEADERS = 'Authorization, Content-Type, Content-Range, Accept, Range, If-None-Match';

/**
 * CORS for the registry API and its token endpoint only (`http.cors`), so a browser UI served from
 * another origin can use them. Preflights (OPTIONS) are answered without authentication, as browsers
 * send them without credentials. The admin API never answers cross-origin: its writes rely on the
 * preflight that a JSON POST needs (docs/security.md).
 */
export function installCors(app: FastifyInstance, opts: CorsOptions): void {
  if (opts.origins.length === 0) return;
  const any = opts.origins.includes('*');
  const allowed = (req: FastifyRequest): string | null => {
    const origin = req.headers.origin;
    if (!origin) return null;
    if (any) return opts.credentials ? origin : '*';
    return opts.origins.includes(origin) ? origin : null;
  };
  const apply = (req: FastifyRequest, set: (k: string, v: string) => void): boolean => {
    const origin = allowed(req);
    if (!origin) return false;
    set('access-control-allow-origin', origin);
    if (origin !== '*') set('vary', 'Origin');
    if (opts.credentials) set('access-control-allow-credentials', 'true');
    return true;
  };
  app.addHook('onSend', (req, reply, payload, done) => {
    const family = req.kura?.family;
    if (
      (family === 'v2' || family === 'token') &&
      req.method !== 'OPTIONS' &&
      apply(req, (k, v) => reply.header(k, v))
    ) {
      reply.header('access-control-expose-headers', EXPOSED);
    }
    done(null, payload);
  });
  for (const url of ['/v2', '/v2/*']) {
    app.route({
      method: 'OPTIONS',
      url,
      config: { family: 'open' },
      handler: async (req, reply) => {
        if (!apply(req, (k, v) => reply.header(k, v))) return reply.code(403).send();
        return reply
          .code(204)
          .header('access-control-allow-methods', METHODS)
          .header('access-control-allow-headers', HEADERS)
          .header('access-control-max-age', opts.maxAgeSeconds)
          .send();
      },
    });
  }
}
