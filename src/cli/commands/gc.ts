import type { Command } from 'commander';
import { loadServeConfig } from '../server-config.js';
import type { GcResult } from '../../registry/registry.js';
import { onStoreOrServer, serverOptions, type ServerFlags } from '../admin-client.js';
import { jsonFlag } from '../options.js';

/** `kura gc`: one collection, on a data directory or through a running server's admin API. */
export function registerGc(program: Command): void {
  serverOptions(
    program
      .command('gc')
      .description(
        'delete unreferenced blobs, unrecorded bytes and stale uploads (on the data directory, or through the ' +
          'server running on it)',
      )
      .option('-c, --config <file>', 'YAML config file, as for kura serve')
      .option('--data <dir>', 'data directory (default ./data)')
      .option('--grace <duration>', 'keep blobs touched within this period (default: gc.grace, 1h)')
      .option('--dry-run', 'list what would be deleted, change nothing')
      .addOption(jsonFlag('print the result as JSON')),
    'POST /admin/v1/gc',
  ).action(
    async (
      opts: ServerFlags & { config?: string; data?: string; grace?: string; dryRun?: boolean; json?: boolean },
    ) => {
      const flags: Record<string, string> = {};
      if (opts.data) flags.data = opts.data;
      // Leases were written with the server's grace (the config's); --grace judges them by its own.
      const leaseGraceMs = (await loadServeConfig({ file: opts.config, env: process.env, flags })).gc.grace;
      if (opts.grace) {
        flags['gc.grace'] = opts.grace;
        // An operator's own offline run may use any grace (the server's one-minute floor guards live pushes).
        flags['gc.allowShortGrace'] = 'true';
      }
      const config = await loadServeConfig({ file: opts.config, env: process.env, flags });
      const {
        result: r,
        where,
        remote,
      } = await onStoreOrServer(
        config,
        opts,
        (registry) =>
          registry.collectGarbage({
            dryRun: opts.dryRun,
            graceMs: config.gc.grace,
            leaseGraceMs,
            uploadsOlderThanMs: config.uploads.purgeAfter,
          }),
        (call) => call<GcResult>('POST', `/admin/v1/gc${opts.dryRun ? '?dryRun=1' : ''}`),
      );
      if (remote && opts.grace)
        process.stderr.write('kura gc: note: --grace applies offline only; the server uses its own gc.grace\n');
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      if (r.skipped) {
        process.stderr.write(`kura gc: nothing done: ${r.skipped}; run it again once that one is finished\n`);
        return;
      }
      for (const b of [...r.blobs, ...r.unrecorded]) process.stdout.write(`${b.digest}\t${b.size}\n`);
      const verb = r.dryRun ? 'would delete' : 'deleted';
      const tail = r.dryRun ? '' : `; ${r.swept} swept, ${r.uploadsPurged} stale uploads purged`;
      const orphans =
        r.unrecorded.length > 0
          ? ` and ${r.unrecorded.length} unrecorded (${r.unrecorded.reduce((a, b) => a + b.size, 0)} bytes)`
          : '';
      process.stderr.write(
        `kura gc: ${verb} ${r.blobs.length} blobs (${r.bytes} bytes)${orphans} in ${where}${tail}\n`,
      );
      if (r.kept?.length) {
        const bytes = r.kept.reduce((a, b) => a + b.size, 0);
        process.stderr.write(
          `kura gc: kept ${r.kept.length} unreferenced blobs (${bytes} bytes): uploaded, mounted or read within the ` +
            `grace period (${graceText(r.graceMs)}); lower it with --grace, e.g. --grace 0s\n`,
        );
      }
    },
  );
}

function graceText(ms: number): string {
  return ms % 3_600_000 === 0 && ms > 0
    ? `${ms / 3_600_000}h`
    : ms % 60_000 === 0 && ms > 0
      ? `${ms / 60_000}m`
      : `${ms / 1000}s`;
}
