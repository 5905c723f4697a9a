import type { Command } from 'commander';
import { loadServeConfig } from '../config/load.js';
import { duration } from '../config/schema.js';
import { openOrFindServer } from './admin-client.js';
import type { AuditEvent } from '../registry/registry.js';

/** `kura audit`: who pushed, pulled, deleted or was refused, from where and when. */
export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('show the audit trail (pushes, pulls, deletes, mounts, refused requests), newest first')
    .option('-c, --config <file>', 'YAML config file, as for kura serve')
    .option('--data <dir>', 'data directory (default ./data); while a server runs on it, asks that server')
    .option('--server <url>', 'ask a running kura serve (GET /admin/v1/audit) instead')
    .option('--creds <user:password>', 'credentials of an admin user for --server')
    .option('--since <duration>', 'only events newer than this (e.g. 24h)')
    .option('--actor <user>', 'only this user')
    .option('--repo <name>', 'only this repository')
    .option('--limit <n>', 'at most this many events', '100')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; data?: string; server?: string; creds?: string; since?: string; actor?: string; repo?: string; limit: string; json?: boolean }) => {
      const config = loadServeConfig({ file: opts.config, env: process.env, flags: opts.data ? { data: opts.data } : {} });
      const window = opts.since === undefined ? undefined : duration.safeParse(opts.since);
      if (window && !window.success) throw new Error(`--since takes a duration such as 30m, 24h or 7d, not "${opts.since}"`);
      const since = window?.success ? Date.now() - window.data : undefined;
      const limit = Number(opts.limit);
      if (!Number.isSafeInteger(limit) || limit <= 0) throw new Error(`--limit must be a positive number, not "${opts.limit}"`);
      let events: AuditEvent[];
      // Through the server: the one named, or the one running on the data directory.
      const target = opts.server ? { server: opts.server } : openOrFindServer(config);
      if ('server' in target) {
        const u = new URL('/admin/v1/audit', target.server);
        if (since) u.searchParams.set('since', String(since));
        if (opts.actor) u.searchParams.set('actor', opts.actor);
        if (opts.repo) u.searchParams.set('repository', opts.repo);
        u.searchParams.set('limit', String(limit));
        const headers: Record<string, string> = opts.creds ? { authorization: 'Basic ' + Buffer.from(opts.creds).toString('base64') } : {};
        const res = await fetch(u, { headers });
        if (res.status === 401 || res.status === 403) throw new Error(`${target.server} refused the audit API (${res.status}); pass --creds of a user with the admin action`);
        if (!res.ok) throw new Error(`${target.server} answered ${res.status} to /admin/v1/audit`);
        events = ((await res.json()) as { events: AuditEvent[] }).events;
      } else {
        const { registry } = target;
        try {
          events = await registry.listAudit({ since, actor: opts.actor, repository: opts.repo, limit });
        } finally {
          await registry.close();
        }
      }
      if (opts.json) {
        process.stdout.write(JSON.stringify(events, null, 2) + '\n');
        return;
      }
      for (const e of events) {
        process.stdout.write(
          [new Date(e.at).toISOString(), e.actor ?? '(anonymous)', e.address, e.action, e.repository ?? '-', e.reference ?? '-', String(e.status)].join('\t') + '\n',
        );
      }
    });
}
