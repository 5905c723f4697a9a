/** `kura migrate --from CONFIG --to CONFIG`: a registry's contents copied from one pair of stores to another. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ServeConfig } from '../../config/schema.js';
import { UsageError } from '../errors.js';
import { jsonFlag } from '../options.js';
import { loadServeConfig } from '../server-config.js';

/** Where a configuration keeps its stores, for refusing a migration onto itself. */
function place(c: ServeConfig): string {
  return `${c.storage.driver}+${c.metadata.driver}@${resolve(c.data)}`;
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description(
      "copy a registry's blobs, manifests, tags and accounts from the stores of one kura serve config to those of " +
        'another (neither served meanwhile); digests verified, re-runs skip what is there',
    )
    .option('--from <config>', 'the kura serve config file of the source registry')
    .option('--to <config>', 'the kura serve config file of the destination registry')
    .addOption(jsonFlag('print the summary as JSON'))
    .action(async (o: { from?: string; to?: string; json?: boolean }) => {
      if (!o.from || !o.to)
        throw new UsageError('kura migrate needs --from CONFIG and --to CONFIG (kura serve configs)');
      // The files alone: KURA_* variables would apply to both ends alike.
      const from = await loadServeConfig({ file: o.from, env: {} });
      const to = await loadServeConfig({ file: o.to, env: {} });
      if (from.storage.driver === 'memory' || from.metadata.driver === 'memory')
        throw new UsageError(`${o.from} keeps its stores in memory: there is nothing to migrate from`);
      if (place(from) === place(to) || resolve(from.data) === resolve(to.data))
        throw new UsageError(`${o.from} and ${o.to} name the same data directory; give --to another data directory`);
      const { openRegistry } = await import('../../server/open.js');
      const { migrateRegistry } = await import('../../migrate/stores.js');
      const source = await openRegistry(from);
      try {
        const dest = await openRegistry(to);
        try {
          const s = await migrateRegistry(source, dest, (repo) => {
            if (!o.json) process.stderr.write(`kura migrate: ${repo}\n`);
          });
          for (const e of s.errors) process.stderr.write(`kura migrate: ${e.repository}: ${e.item}: ${e.message}\n`);
          if (o.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
          else
            process.stdout.write(
              `migrated ${source.dataDir} to ${dest.dataDir}: ${s.repositories} repositories, ${s.tags} tags, ` +
                `${s.manifests} manifests, ${s.blobs} blobs (${s.bytes} bytes), ${s.mounted} blobs mounted, ` +
                `${s.accounts} accounts, ${s.skipped} already present, ${s.errors.length} errors\n`,
            );
          if (s.errors.length > 0)
            throw new Error(
              `${s.errors.length} items were not migrated (listed above); fix the source and run the same command ` +
                'again: what is already there is skipped',
            );
        } finally {
          await dest.registry.close();
        }
      } finally {
        await source.registry.close();
      }
    });
}
