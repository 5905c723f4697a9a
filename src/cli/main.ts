#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { registerAccounts } from './accounts.js';
import { registerAudit } from './audit.js';
import { registerCopy } from './copy.js';
import { registerFsck } from './fsck.js';
import { registerGc } from './gc.js';
import { registerLogin } from './login.js';
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
registerLogin(program);

program.parseAsync(process.argv).catch(fail);
