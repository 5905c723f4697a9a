/** Where the advisory database lives by default: shared by `kura db`, `kura scan` and `kura serve` (scan.db). */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `dir`, else `$KURA_DB_DIR`, else `$XDG_DATA_HOME/kura/db`, else `~/.local/share/kura/db`; the file in it. */
export function defaultDbFile(dir?: string, env: NodeJS.ProcessEnv = process.env): string {
  const d = dir ?? env.KURA_DB_DIR ?? join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'kura', 'db');
  return join(d, 'osv.sqlite');
}
