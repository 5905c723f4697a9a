/** Where the local image store lives by default (a module of its own, so that finding it loads nothing else). */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$KURA_STORE`, else `$XDG_DATA_HOME/kura/store`, else `~/.local/share/kura/store`. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KURA_STORE) return env.KURA_STORE;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'kura', 'store');
}
