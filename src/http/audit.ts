import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from '../registry/registry.js';

/** Refused requests recorded per client address and minute; the rest of that minute is counted in one row. */
const DENIALS_PER_MINUTE = 5;

/**
 * The audit trail: pushes, pulls, deletes, mounts and refused (401/403) requests on /v2, with who,
 * from where and when, decided from the matched route. Events are buffered by the Registry and
 * written in batches. A 401 to a request that carried no credentials is not recorded (every client
 * starts with one), and refusals are capped per address and minute, with one row that counts the
 * rest, so an anonymous flood cannot grow the trail (security audit M9).
 */
export function installAudit(
  app: FastifyInstance,
  registry: Registry,
  opts: { pulls: boolean } = { pulls: true },
): void {
  const denials = new Map<string, { minute: number; count: number }>();
  /** Whether this refusal gets its own row; writes the previous minute's summary when one is due. */
  const recordDenial = (req: FastifyRequest): boolean => {
    const minute = Math.floor(Date.now() / 60_000);
    let d = denials.get(req.ip);
    if (!d || d.minute !== minute) {
      if (d && d.count > DENIALS_PER_MINUTE) {
        registry.audit({
          at: d.minute * 60_000 + 59_999,
          actor: null,
          address: req.ip,
          action: 'denied',
          repository: null,
          reference: `${d.count - DENIALS_PER_MINUTE} more refused requests in this minute (not recorded one by one)`,
          status: 0,
        });
      }
      if (denials.size > 10_000) for (const [k, v] of denials) if (v.minute !== minute) denials.delete(k);
      denials.set(req.ip, (d = { minute, count: 0 }));
    }
    d.count++;
    return d.count <= DENIALS_PER_MINUTE;
  };

  app.addHook('onResponse', (req, reply, done) => {
    const { family, path, query, v2: route } = req.kura ?? {};
    if (family !== 'v2' || path === '/v2/' || path === '/v2') return done();
    const status = reply.statusCode;
    let action: string | null = null;
    let reference: string | null = null;
    if (status === 401 || status === 403) {
      if (status === 401 && !req.headers.authorization) return done();
      if (!recordDenial(req)) return done();
      action = 'denied';
    }
    if (route?.kind === 'manifest') {
      reference = route.reference;
      if (status === 200 && req.method === 'GET') action = opts.pulls ? 'pull' : null;
      else if (status === 201 && req.method === 'PUT') action = 'push';
      else if (status === 202 && req.method === 'DELETE') action = 'delete';
    } else if (route?.kind === 'blob' && status === 202 && req.method === 'DELETE') {
      action = 'delete';
      reference = route.digest;
    } else if (route?.kind === 'uploads' && status === 201 && query?.has('mount')) {
      action = 'mount';
      reference = query.get('mount');
    }
    if (action === 'denied') reference = `${req.method} ${path!.slice(0, 300)}`;
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
