/** The server's configuration for maintenance commands, loaded when one runs (the schema needs zod and yaml). */
import type { ServeConfig } from '../config/schema.js';

/** loadServeConfig of config/load.ts, imported on first use. */
export async function loadServeConfig(o: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, string>;
}): Promise<ServeConfig> {
  return (await import('../config/load.js')).loadServeConfig(o);
}
