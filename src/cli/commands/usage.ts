/** `kura usage`: storage per namespace and per repository. */
import type { Command } from 'commander';
import { humanSize } from '../../analysis/units.js';
import { loadServeConfig } from '../server-config.js';
import type { UsageReport } from '../../registry/registry.js';
import { onStoreOrServer, serverOptions, type ServerFlags } from '../admin-client.js';
import { jsonFlag } from '../options.js';

/** Sizes in binary units, as quotas are written (`10GiB`). */
const human = (bytes: number) => humanSize(bytes, 1, 'binary');

function render(r: UsageReport, quotaOf: (kind: 'namespaces' | 'repositories', name: string) => string): string {
  const rows: string[][] = [['SCOPE', 'NAME', 'BLOBS', 'SIZE', 'SUM OF REPOS', 'QUOTA']];
  for (const n of r.namespaces)
    rows.push([
      'namespace',
      n.name,
      String(n.blobs),
      human(n.bytes),
      human(n.sumOfRepositories),
      quotaOf('namespaces', n.name),
    ]);
  for (const x of r.repositories)
    rows.push(['repository', x.name, String(x.blobs), human(x.bytes), '', quotaOf('repositories', x.name)]);
  rows.push(['total', '', String(r.total.blobs), human(r.total.bytes), '', '']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return (
    rows
      .map((row) =>
        row
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** `kura usage`: storage per namespace (deduplicated) and per repository, from a server or a data directory. */
export function registerUsage(program: Command): void {
  const cmd = program
    .command('usage')
    .description('storage used per namespace (shared blobs once) and per repository')
    .option('-c, --config <file>', 'YAML config file, as for kura serve')
    .option('--data <dir>', 'data directory (default ./data); while a server runs on it, asks that server')
    .addOption(jsonFlag('print JSON'));
  serverOptions(cmd, 'GET /admin/v1/usage').action(
    async (opts: ServerFlags & { config?: string; data?: string; json?: boolean }) => {
      const config = await loadServeConfig({
        file: opts.config,
        env: process.env,
        flags: opts.data ? { data: opts.data } : {},
      });
      const { result: report } = await onStoreOrServer(
        config,
        opts,
        (registry) => registry.usageReport(),
        (call) => call<UsageReport>('GET', '/admin/v1/usage'),
      );
      if (opts.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      const { matchesAny } = await import('../../registry/retention.js');
      const quotaOf = (kind: 'namespaces' | 'repositories', name: string) => {
        const q = config.quotas.find((x) => x[kind] && matchesAny(x[kind], name));
        return q ? human(q.limit) : '';
      };
      process.stdout.write(render(report, quotaOf));
    },
  );
}
