import type { Command } from 'commander';
import { loadServeConfig } from '../server-config.js';
import type { FsckReport } from '../../registry/registry.js';
import { onStoreOrServer, serverOptions, type ServerFlags } from '../admin-client.js';
import { jsonFlag } from '../options.js';

/** `kura fsck`: metadata against stored bytes; exit 1 when something is wrong and was not repaired. */
export function registerFsck(program: Command): void {
  serverOptions(
    program
      .command('fsck')
      .description(
        'check a data directory (or, read-only, the server running on it): rows without bytes, bytes without rows, ' +
          'corrupt blobs',
      )
      .option('-c, --config <file>', 'YAML config file, as for kura serve')
      .option('--data <dir>', 'data directory (default ./data)')
      .option('--verify', 'also hash every blob (reads all bytes)')
      .option(
        '--repair',
        'drop rows whose bytes are lost, delete corrupt and orphaned bytes, finish interrupted GC sweeps',
      )
      .addOption(jsonFlag('print the report as JSON')),
    'GET /admin/v1/fsck',
  ).action(
    async (
      opts: ServerFlags & { config?: string; data?: string; verify?: boolean; repair?: boolean; json?: boolean },
    ) => {
      const config = await loadServeConfig({
        file: opts.config,
        env: process.env,
        flags: opts.data ? { data: opts.data } : {},
      });
      let problems = 0;
      const { result: r, where: dataDir } = await onStoreOrServer(
        config,
        opts,
        (registry) => registry.fsck({ repair: opts.repair, verify: opts.verify }),
        (call) => {
          if (opts.repair)
            throw new Error('--repair needs the server stopped: run kura fsck --repair on its data directory then');
          return call<FsckReport>('GET', `/admin/v1/fsck${opts.verify ? '?verify=1' : ''}`);
        },
      );
      problems = r.missing.length + r.corrupt.length + r.orphaned.length;
      if (opts.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else {
        for (const [kind, list] of [
          ['missing', r.missing],
          ['corrupt', r.corrupt],
          ['orphaned', r.orphaned],
          ['pending-gc', r.pending],
        ] as const) {
          for (const d of list) process.stdout.write(`${kind}\t${d}\n`);
        }
        const state =
          problems === 0
            ? 'clean'
            : r.repaired
              ? `${problems} problems repaired`
              : `${problems} problems (run with --repair)`;
        process.stderr.write(
          `kura fsck: ${dataDir}: ${r.checked} blobs checked${opts.verify ? ' and hashed' : ''}, ${state}; ` +
            `${r.pending.length} awaiting GC sweep\n`,
        );
      }
      if (problems > 0 && !opts.repair) process.exitCode = 1;
    },
  );
}
