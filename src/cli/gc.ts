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
      if (opts.grace) flags['gc.grace'] = opts.grace;
      const config = loadServeConfig({ file: opts.config, env: process.env, flags });
      const { registry, dataDir } = openEmbeddedRegistry(config);
      try {
        const r = await registry.collectGarbage({ dryRun: opts.dryRun, uploadsOlderThanMs: config.uploads.purgeAfter });
        if (opts.json) {
          process.stdout.write(JSON.stringify(r, null, 2) + '\n');
          return;
        }
        for (const b of [...r.blobs, ...r.unrecorded]) process.stdout.write(`${b.digest}\t${b.size}\n`);
        const verb = r.dryRun ? 'would delete' : 'deleted';
        const tail = r.dryRun ? '' : `; ${r.swept} swept, ${r.uploadsPurged} stale uploads purged`;
        const orphans = r.unrecorded.length > 0 ? ` and ${r.unrecorded.length} unrecorded (${r.unrecorded.reduce((a, b) => a + b.size, 0)} bytes)` : '';
        process.stderr.write(`kura gc: ${verb} ${r.blobs.length} blobs (${r.bytes} bytes)${orphans} in ${dataDir}${tail}\n`);
      } finally {
        await registry.close();
      }
    });
}
