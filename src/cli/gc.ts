import type { Command } from 'commander';
import { loadServeConfig } from '../config/load.js';
import type { GcResult } from '../registry/registry.js';
import { onStoreOrServer } from './admin-client.js';

/** `kura gc`: one collection, on a data directory or through a running server's admin API. */
export function registerGc(program: Command): void {
  program
    .command('gc')
    .description('delete unreferenced blobs, unrecorded bytes and stale uploads (on the data directory, or through the server running on it)')
    .option('-c, --config <file>', 'YAML config file, as for kura serve')
    .option('--data <dir>', 'data directory (default ./data)')
    .option('--grace <duration>', 'keep blobs touched within this period (default: gc.grace, 1h)')
    .option('--dry-run', 'list what would be deleted, change nothing')
    .option('--json', 'print the result as JSON')
    .option('--server <url>', 'work through the admin API of this running kura serve (default: the server running on --data, if any)')
    .option('--creds <user:password>', 'admin credentials for --server (default: from kura login / docker config)')
    .action(async (opts: { config?: string; data?: string; grace?: string; dryRun?: boolean; json?: boolean; server?: string; creds?: string }) => {
      const flags: Record<string, string> = {};
      if (opts.data) flags.data = opts.data;
      if (opts.grace) flags['gc.grace'] = opts.grace;
      const config = loadServeConfig({ file: opts.config, env: process.env, flags });
      const { result: r, where, remote } = await onStoreOrServer(
        config,
        opts,
        (registry) => registry.collectGarbage({ dryRun: opts.dryRun, uploadsOlderThanMs: config.uploads.purgeAfter }),
        (call) => call<GcResult>('POST', `/admin/v1/gc${opts.dryRun ? '?dryRun=1' : ''}`),
      );
      if (remote && opts.grace) process.stderr.write('kura gc: note: --grace applies offline only; the server uses its own gc.grace\n');
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      for (const b of [...r.blobs, ...r.unrecorded]) process.stdout.write(`${b.digest}\t${b.size}\n`);
      const verb = r.dryRun ? 'would delete' : 'deleted';
      const tail = r.dryRun ? '' : `; ${r.swept} swept, ${r.uploadsPurged} stale uploads purged`;
      const orphans = r.unrecorded.length > 0 ? ` and ${r.unrecorded.length} unrecorded (${r.unrecorded.reduce((a, b) => a + b.size, 0)} bytes)` : '';
      process.stderr.write(`kura gc: ${verb} ${r.blobs.length} blobs (${r.bytes} bytes)${orphans} in ${where}${tail}\n`);
    });
}
