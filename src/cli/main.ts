#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { registerAccounts } from './accounts.js';
import { registerAudit } from './audit.js';
import { registerCopy } from './copy.js';
import { registerExport } from './export.js';
import { registerHistory } from './history.js';
import { registerConfig, registerDigest, registerInspect } from './inspect.js';
import { registerManifest } from './manifest.js';
import { registerRatelimit } from './ratelimit.js';
import { registerCatalog, registerRm, registerTags } from './repo.js';
import { registerFsck } from './fsck.js';
import { registerGc } from './gc.js';
import { registerPolicy } from './policy.js';
import { registerUsage } from './usage.js';
import { registerServe } from './serve.js';

/** The one error boundary of the CLI: a line that names the fix, and a non-zero exit code. */
function fail(e: unknown): never {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  const err = e as NodeJS.ErrnoException;
  let msg: string;
  if (e instanceof ConfigError) msg = `${e.message} (see docs/configuration.md)`;
  else if (err?.code === 'EADDRINUSE') msg = `address already in use: ${err.message.replace(/^listen /, '')}; pick another with --listen HOST:PORT`;
  else if (err?.code === 'EACCES') msg = `permission denied: ${err.message}; check the --data directory or use a port above 1023`;
  else msg = err?.message ?? String(e);
  process.stderr.write(`kura: error: ${msg}\n`);
  process.exit(1);
}

const program = new Command('kura')
  .description('Kura: container images without a Docker daemon — registry, toolkit and library')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError('(run "kura --help" for usage)');
registerServe(program);
registerGc(program);
registerFsck(program);
registerPolicy(program);
registerUsage(program);
registerAudit(program);
registerAccounts(program);
registerCopy(program);
registerInspect(program);
registerConfig(program);
registerDigest(program);
registerHistory(program);
registerManifest(program);
registerExport(program);
registerRatelimit(program);
registerTags(program);
registerCatalog(program);
registerRm(program);

program.parseAsync(process.argv).catch(fail);
