#!/usr/bin/env node
/** The kura command: the one error boundary around the program of program.ts. */
import { CommanderError } from 'commander';
import { failureReport } from './errors.js';
import { buildProgram, commandName } from './program.js';

/**
 * The one error boundary of the CLI: a line that names the fix, and an exit code: 2 for usage
 * errors (commander's and UsageError), 1 for failures. An unexpected error (a bug) says so; with
 * --debug or KURA_DEBUG=1 its stack follows.
 */
async function fail(e: unknown, debug: boolean): Promise<never> {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  const err = e as NodeJS.ErrnoException;
  let msg: string;
  const { ConfigError } = await import('../config/load.js');
  if (e instanceof ConfigError) msg = `${e.message} (see docs/configuration.md)`;
  else if (err?.code === 'EADDRINUSE') {
    msg = `address already in use: ${err.message.replace(/^listen /, '')}; pick another with --listen HOST:PORT`;
  } else if (err?.code === 'EACCES') {
    msg = `permission denied: ${err.message}; check the --data directory or use a port above 1023`;
  } else msg = (await import('./hints.js')).cliMessage(e, err?.message ?? String(e));
  const report = failureReport(e, msg, debug);
  process.stderr.write(report.text);
  process.exit(report.exitCode);
}

/** Commands that stream whole images through short-lived buffers (tar entries, inflated chunks) and then exit. */
const STREAMING_READERS = new Set(['sbom', 'scan', 'layers', 'lint', 'ls', 'cat', 'cp', 'diff', 'export']);

/**
 * Keeps V8's young generation at its starting size for a streaming read. By default it doubles under
 * the churn of a layer stream up to two 16 MiB semi-spaces, which is most of a `kura sbom`'s peak RSS
 * above bare Node (106 → 81 MiB on the Debian image, the same CPU time: docs/benchmarks.md, "SBOM").
 * A long-lived `kura serve` keeps V8's default.
 */
async function smallYoungGeneration(): Promise<void> {
  (await import('node:v8')).setFlagsFromString('--semi-space-growth-factor=1');
}

async function main(argv: string[]): Promise<void> {
  // --debug is the boundary's, wherever it stands (before `--`); commander never sees it.
  const end = argv.indexOf('--', 2);
  const args = argv.slice(2).filter((a, i) => a !== '--debug' || (end >= 0 && i + 2 > end));
  const debug = args.length !== argv.length - 2 || process.env.KURA_DEBUG === '1';
  try {
    const program = await buildProgram(args);
    if (commandName(args) && !args.includes('--help') && !args.includes('-h')) {
      // Temporary files of writes cut short: the library tracks them, the application removes them.
      const { removeLiveTemps } = await import('../oci/temps.js');
      process.once('exit', removeLiveTemps);
      if (STREAMING_READERS.has(commandName(args)!)) await smallYoungGeneration();
    }
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    return fail(e, debug);
  }
  // A command's work is done when its action resolves (serve's is its server, which stays up). A
  // leftover handle (a keep-alive socket, a helper's pipe) must not keep a CLI waiting.
  if (commandName(args) !== 'serve') setTimeout(() => process.exit(), 2000).unref();
}

void main(process.argv);
