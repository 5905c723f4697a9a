import type { Command } from 'commander';
import { loadServeConfig } from '../config/load.js';
import { openEmbeddedRegistry } from '../http/server.js';

/** `kura gc`: one collection on a data directory no server is using (a running server collects on its own schedule). */
export function registerGc(program: Command): void {
  program
    .command('gc')
    .description('delete unreferenced blobs and stale uploads from a data directory (run it while no server uses it; `kura serve` collects on its own schedule)')
    .option('-c, --config <file>', 'YAML config file, as for kura serve')
    .option('--data <dir>', 'data directory (default ./data)')
    .option('--grace <duration>', 'keep blobs touched within this period (default: gc.grace, 1h)')
    .option('--dry-run', 'list what would be deleted, change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { config?: string; data?: string; grace?: string; dryRun?: boolean; json?: boolean }) => {
      const flags: Record<string, string> = {};
      if (opts.data) flags.data = opts.data;
      // Leases were written with the server's grace (the config's); --grace judges them by its own.
      const leaseGraceMs = loadServeConfig({ file: opts.config, env: process.env, flags }).gc.grace;
      if (opts.grace) flags['gc.grace'] = opts.grace;
      const config = loadServeConfig({ file: opts.config, env: process.env, flags });
      const { registry, dataDir } = openEmbeddedRegistry(config);
      try {
        const r = await registry.collectGarbage({ dryRun: opts.dryRun, graceMs: config.gc.grace, leaseGraceMs, uploadsOlderThanMs: config.uploads.purgeAfter });
        if (opts.json) {
          process.stdout.write(JSON.stringify(r, null, 2) + '\n');
          return;
        }
        for (const b of r.blobs) process.stdout.write(`${b.digest}\t${b.size}\n`);
        const verb = r.dryRun ? 'would delete' : 'deleted';
        const tail = r.dryRun ? '' : `; ${r.swept} swept, ${r.uploadsPurged} stale uploads purged`;
        process.stderr.write(`kura gc: ${verb} ${r.blobs.length} blobs (${r.bytes} bytes) in ${dataDir}${tail}\n`);
        if (r.kept.length) {
          const bytes = r.kept.reduce((a, b) => a + b.size, 0);
          process.stderr.write(`kura gc: kept ${r.kept.length} unreferenced blobs (${bytes} bytes): uploaded, mounted or read within the grace period (${graceText(r.graceMs)}); lower it with --grace, e.g. --grace 0s\n`);
        }
      } finally {
        await registry.close();
      }
    });
}

function graceText(ms: number): string {
  return ms % 3_600_000 === 0 && ms > 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 && ms > 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}
