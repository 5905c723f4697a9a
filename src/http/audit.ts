import type { FastifyInstance } from 'fastify';
import type { Registry } from '../registry/registry.js';
import { parseV2Path } from './route.js';

/**
 * The audit trail: pushes, pulls, deletes, mounts and every refused (401/403) request on /v2, with
 * who, from where and when. Events are buffered by the Registry and written in batches.
 */
export function installAudit(app: FastifyInstance, registry: Registry, opts: { pulls: boolean } = { pulls: true }): void {
  app.addHook('onResponse', (req, reply, done) => {
    const url = req.raw.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!path.startsWith('/v2/') || path === '/v2/') return done();
    const status = reply.statusCode;
    let route = null;
    try {
      route = parseV2Path(path.slice(4));
    } catch {
      // not a valid name: nothing happened to any repository
    }
    let action: string | null = null;
    let reference: string | null = null;
    if (status === 401 || status === 403) action = 'denied';
    if (route?.kind === 'manifest') {
      reference = route.reference;
      if (status === 200 && req.method === 'GET') action = opts.pulls ? 'pull' : null;
      else if (status === 201 && req.method === 'PUT') action = 'push';
      else if (status === 202 && req.method === 'DELETE') action = 'delete';
    } else if (route?.kind === 'blob' && status === 202 && req.method === 'DELETE') {
      action = 'delete';
      reference = route.digest;
    } else if (route?.kind === 'uploads' && status === 201 && url.includes('mount=')) {
      action = 'mount';
      reference = new URLSearchParams(url.slice(q + 1)).get('mount');
    }
    if (action === 'denied') reference = `${req.method} ${path.slice(0, 300)}`;
    if (action) {
      registry.audit({
        at: Date.now(),
        actor: req.kuraCaller?.who ?? null,
        address: req.ip,
        action,
        repository: route?.repo ?? null,
        reference,
        status,
      });
    }
    done();
  });
}
