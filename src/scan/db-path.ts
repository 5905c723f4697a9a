/** Where the advisory database lives by default: shared by `kura db`, `kura scan` and `kura serve` (scan.db). */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `dir`, else `$KURA_DB_DIR`, else `$XDG_DATA_HOME/kura/db`, else `~/.local/share/kura/db`; the file in it. */
export function defaultDbFile(dir?: string, env: NodeJS.ProcessEnv = process.env): string {
  const d = dir ?? env.KURA_DB_DIR ?? join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'kura', 'db');
  return join(d, 'osv.sqlite');
}

export interface DbDirOptions {
  dbDir?: string;
}

/** The database file for the `--db-dir` option of `kura db`, `kura scan` (see defaultDbFile). */
export function dbFile(opts: DbDirOptions, env: NodeJS.ProcessEnv = process.env): string {
  return defaultDbFile(opts.dbDir, env);
}

/** The help text of `--db-dir`. */
export const DB_DIR_HELP =
  'advisory database directory (default: $KURA_DB_DIR, else $XDG_DATA_HOME/kura/db, else ~/.local/share/kura/db)';
