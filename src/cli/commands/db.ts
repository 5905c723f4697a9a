/** `kura db import|status`: the offline advisory database scans read. */
import type { Command } from 'commander';
import { group } from '../store.js';
import { collect, jsonFlag } from '../options.js';
import { UsageError } from '../errors.js';
import { DB_DIR_HELP, dbFile, type DbDirOptions } from '../../scan/db-path.js';

const age = (iso: string, now: number) => {
  const h = Math.floor((now - Date.parse(iso)) / 3_600_000);
  return h < 48 ? `${h}h` : `${Math.floor(h / 24)}d`;
};

/** `kura db …`. */
export function registerDb(program: Command): void {
  const db = group(program, 'db', 'the offline vulnerability database (OSV records) that kura scan reads');
  db.command('import <paths...>')
    .description(
      "import OSV records: osv.dev's per-ecosystem zips (all.zip), directories of OSV JSON files, or single files; " +
        'each path replaces what it imported before; all or nothing',
    )
    .option('--db-dir <dir>', DB_DIR_HELP)
    .action(async (paths: string[], opts: DbDirOptions) => {
      const { importPaths } = await import('../../scan/import.js');
      const file = dbFile(opts);
      const t0 = Date.now();
      const sources = await importPaths(file, paths);
      for (const s of sources)
        process.stderr.write(
          `imported ${s.records} records from ${s.name}${s.withdrawn ? ` (${s.withdrawn} withdrawn, skipped)` : ''}\n`,
        );
      process.stderr.write(`${file} ready in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    });
  db.command('update')
    .description(
      "download osv.dev's per-ecosystem exports (BASE/ECOSYSTEM/all.zip) and import them: unchanged ones are " +
        'skipped (ETag, Last-Modified), an interrupted download resumes, and a failure leaves the old database',
    )
    .option('--db-dir <dir>', DB_DIR_HELP)
    .option('--base-url <url>', "where the exports are (default: $KURA_DB_URL, else osv.dev's public bucket)")
    .option('--ecosystem <name>', 'an OSV ecosystem to fetch (repeatable; default: the ten Kura matches)', collect, [])
    .action(async (opts: DbDirOptions & { baseUrl?: string; ecosystem: string[] }) => {
      const { DEFAULT_BASE_URL, DEFAULT_ECOSYSTEMS, updateDb } = await import('../../scan/update.js');
      const base = opts.baseUrl ?? process.env.KURA_DB_URL ?? DEFAULT_BASE_URL;
      if (!/^https?:\/\//.test(base)) throw new UsageError(`--base-url takes an http(s) URL, not "${base}"`);
      const ecosystems = opts.ecosystem.length ? opts.ecosystem : DEFAULT_ECOSYSTEMS;
      for (const r of await updateDb(dbFile(opts), base, ecosystems)) {
        const how =
          r.status === 'updated' ? `${r.records} records${r.resumed ? ' (download resumed)' : ''}` : 'not modified';
        process.stderr.write(`${r.ecosystem}: ${how}\n`);
      }
    });
  db.command('status')
    .description('show the sources of the advisory database, their record counts and age')
    .option('--db-dir <dir>', DB_DIR_HELP)
    .addOption(jsonFlag('print the status as JSON'))
    .action(async (opts: DbDirOptions & { json?: boolean }) => {
      const { AdvisoryDb } = await import('../../scan/db.js');
      const d = AdvisoryDb.open(dbFile(opts));
      try {
        const sources = d.sources();
        const counts = d.counts();
        if (opts.json) {
          process.stdout.write(JSON.stringify({ file: d.file, sources, ecosystems: counts }, null, 2) + '\n');
          return;
        }
        const now = Date.now();
        const { tabwrite } = await import('../format/tabwriter.js');
        const rows = ['SOURCE\tRECORDS\tWITHDRAWN\tIMPORTED\tAGE'];
        for (const s of sources)
          rows.push(`${s.name}\t${s.records}\t${s.withdrawn}\t${s.importedAt}\t${age(s.importedAt, now)}`);
        process.stdout.write(`${d.file}\n` + tabwrite(rows.join('\n') + '\n', 0, 2));
        const eco = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
        process.stdout.write(`records by ecosystem: ${eco.map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}\n`);
      } finally {
        d.close();
      }
    });
}
