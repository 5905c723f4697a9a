/**
 * Wires replication rules into a running server (this registry's side read and written in-process by
 * replication-local.ts): pushes of manifests (successful PUTs) trigger the rules that
 * take them, and the admin API shows each rule's last run (`GET /admin/v1/replication`) and starts runs
 * (`POST /admin/v1/replication/run?rule=NAME`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import { isLoopback } from '../http/admin.js';
import { OciError } from '../oci/errors.js';
import type { Registry } from '../registry/registry.js';
import type { Replicator } from '../replication/index.js';
import { LocalRepository } from './replication-local.js';

/** Every local repository name, page by page. */
async function allRepositories(registry: Registry): Promise<string[]> {
  const out: string[] = [];
  for (let last: string | undefined; ; ) {
    const page = await registry.listRepositories({ n: 1000, last });
    out.push(...page.items);
    if (page.items.length < 1000) return out;
    last = page.items[page.items.length - 1];
  }
}

/** The replicator of the configured rules, hooked into `app`; undefined without rules. */
export async function openReplication(
  app: FastifyInstance,
  registry: Registry,
  config: ServeConfig,
  authenticated: boolean,
): Promise<Replicator | undefined> {
  if (config.replication.rules.length === 0) return undefined;
  const { Replicator } = await import('../replication/index.js');
  const pruning = config.replication.rules.find((r) => r.prune);
  if (pruning && !config.delete.enabled)
    throw new Error(`replication rule "${pruning.name}" prunes tags: set delete.enabled: true (or drop prune)`);
  const log = app.log.child({ component: 'replication' });
  const replicator = new Replicator(
    config.replication.rules,
    () => allRepositories(registry),
    (repo) => new LocalRepository(registry, repo),
    { info: (f, m) => log.info(f, m), error: (f, m) => log.error(f, m) },
  );
  app.addHook('onResponse', (req, reply, done) => {
    const v2 = req.kura?.family === 'v2' ? req.kura.v2 : null;
    if (req.method === 'PUT' && v2?.kind === 'manifest' && reply.statusCode === 201)
      replicator.pushed(v2.repo, v2.reference);
    done();
  });
  const assertAdmin = (req: FastifyRequest, write: boolean) => {
    if (authenticated ? !req.kuraCaller?.admin : write || !isLoopback(req.socket.remoteAddress))
      throw new OciError(
        'DENIED',
        authenticated
          ? 'the admin API needs a global admin'
          : 'authentication is off: the admin API answers reads on loopback only; turn authentication on to run rules',
      );
  };
  const admin = { config: { family: 'admin' as const } };
  app.get('/admin/v1/replication', admin, async (req, reply) => {
    assertAdmin(req, false);
    return reply.header('cache-control', 'no-store').send(replicator.status());
  });
  app.post('/admin/v1/replication/run', admin, async (req, reply) => {
    assertAdmin(req, true);
    const name = req.kura.query.get('rule') ?? undefined;
    if (name !== undefined && !replicator.status().rules.some((r) => r.name === name))
      throw new OciError('NAME_UNKNOWN', `no replication rule "${name}" (see GET /admin/v1/replication)`);
    await replicator.runNow(name);
    return reply.header('cache-control', 'no-store').send(replicator.status());
  });
  return replicator;
}
