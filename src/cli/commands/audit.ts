import type { Command } from 'commander';
import { loadServeConfig } from '../server-config.js';
import type { AuditEvent } from '../../registry/registry.js';
import { UsageError } from '../errors.js';
import { onStoreOrServer, serverOptions, type ServerFlags } from '../admin-client.js';
import { jsonFlag } from '../options.js';

/** `kura audit`: who pushed, pulled, deleted or was refused, from where and when. */
export function registerAudit(program: Command): void {
  const cmd = program
    .command('audit')
    .description('show the audit trail (pushes, pulls, deletes, mounts, refused requests), newest first')
    .option('-c, --config <file>', 'YAML config file, as for kura serve')
    .option('--data <dir>', 'data directory (default ./data); while a server runs on it, asks that server')
    .option('--since <duration>', 'only events newer than this (e.g. 24h)')
    .option('--actor <user>', 'only this user')
    .option('--repo <name>', 'only this repository')
    .option('--limit <n>', 'at most this many events', '100')
    .addOption(jsonFlag('print JSON'));
  serverOptions(cmd, 'GET /admin/v1/audit').action(
    async (
      opts: ServerFlags & {
        config?: string;
        data?: string;
        since?: string;
        actor?: string;
        repo?: string;
        limit: string;
        json?: boolean;
      },
    ) => {
      const config = await loadServeConfig({
        file: opts.config,
        env: process.env,
        flags: opts.data ? { data: opts.data } : {},
      });
      const { duration } = await import('../../config/values.js');
      const window = opts.since === undefined ? undefined : duration.safeParse(opts.since);
      if (window && !window.success)
        throw new UsageError(`--since takes a duration such as 30m, 24h or 7d, not "${opts.since}"`);
      const since = window?.success ? Date.now() - window.data : undefined;
      const limit = Number(opts.limit);
      if (!Number.isSafeInteger(limit) || limit <= 0)
        throw new UsageError(`--limit must be a positive number, not "${opts.limit}"`);
      const q = new URLSearchParams();
      if (since) q.set('since', String(since));
      if (opts.actor) q.set('actor', opts.actor);
      if (opts.repo) q.set('repository', opts.repo);
      q.set('limit', String(limit));
      const { result: events } = await onStoreOrServer(
        config,
        opts,
        (registry) => registry.listAudit({ since, actor: opts.actor, repository: opts.repo, limit }),
        async (call) => (await call<{ events: AuditEvent[] }>('GET', `/admin/v1/audit?${q}`)).events,
      );
      if (opts.json) {
        process.stdout.write(JSON.stringify(events, null, 2) + '\n');
        return;
      }
      for (const e of events) {
        process.stdout.write(
          [
            new Date(e.at).toISOString(),
            e.actor ?? '(anonymous)',
            e.address,
            e.action,
            e.repository ?? '-',
            e.reference ?? '-',
            String(e.status),
          ].join('\t') + '\n',
        );
      }
    },
  );
}
