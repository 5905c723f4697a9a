import type { Command } from 'commander';
import { loadServeConfig } from '../server-config.js';
import type { RetentionPlan } from '../../registry/registry.js';
import { onStoreOrServer, serverOptions, type ServerFlags } from '../admin-client.js';
import type { RetentionAction } from '../../registry/retention.js';
import { jsonFlag } from '../options.js';

function table(actions: RetentionAction[]): string {
  const rows = actions.map((a) => [
    a.repo,
    a.kind === 'tag'
      ? `tag ${a.tag}`
      : `image ${a.digest.slice(0, 19)}${a.tags.length ? ` (${a.tags.join(', ')})` : ''}`,
    a.reason,
  ]);
  const head = ['REPOSITORY', 'REMOVE', 'WHY'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return (
    [head, ...rows].map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ')).join('\n') +
    '\n'
  );
}

/** `kura policy plan|apply`: retention rules from the config file, on a data directory no server is using. */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('retention policies: see what they remove, then remove it');
  for (const verb of ['plan', 'apply'] as const) {
    serverOptions(
      policy
        .command(verb)
        .description(
          verb === 'plan'
            ? 'print what the retention rules would remove now, and why (changes nothing)'
            : 'remove what `kura policy plan` prints',
        )
        .option('-c, --config <file>', 'YAML config file with retention rules')
        .option('--data <dir>', 'data directory (default ./data)')
        .addOption(jsonFlag('print the plan as JSON')),
      'the retention routes',
    ).action(async (opts: ServerFlags & { config?: string; data?: string; json?: boolean }) => {
      const config = await loadServeConfig({
        file: opts.config,
        env: process.env,
        flags: opts.data ? { data: opts.data } : {},
      });
      type Applied = { applied: number; skipped: number };
      const { result } = await onStoreOrServer<{ plan: RetentionPlan; applied: Applied | null }>(
        config,
        opts,
        async (registry) => {
          if (config.retention.rules.length === 0 && config.retention.ecr.length === 0) {
            throw new Error(
              'no retention rules configured: add retention.rules or retention.ecr to the config file (see ' +
                'docs/configuration.md)',
            );
          }
          const plan = await registry.planRetention();
          return { plan, applied: verb === 'apply' ? await registry.applyRetention(plan) : null };
        },
        async (call) => {
          if (verb === 'plan')
            return { plan: await call<RetentionPlan>('GET', '/admin/v1/retention/plan'), applied: null };
          const r = await call<RetentionPlan & Applied>('POST', '/admin/v1/retention/apply');
          return { plan: r, applied: { applied: r.applied, skipped: r.skipped } };
        },
      );
      const { plan, applied } = result;
      if (opts.json) process.stdout.write(JSON.stringify({ ...plan, ...(applied ?? {}) }, null, 2) + '\n');
      else if (plan.actions.length > 0) process.stdout.write(table(plan.actions));
      const done = applied
        ? `removed ${applied.applied}${applied.skipped ? `, skipped ${applied.skipped} changed since planning` : ''}`
        : `would remove ${plan.actions.length}`;
      process.stderr.write(`kura policy ${verb}: ${plan.repositories} repositories matched; ${done}\n`);
    });
  }
}
