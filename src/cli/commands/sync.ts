/** `kura sync`: skopeo sync's command line over the sync engine (src/sync/). */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { emitResult, outputFlags } from '../options.js';

interface SyncFlags {
  src?: string;
  dest?: string;
  all?: boolean;
  scoped?: boolean;
  keepGoing?: boolean;
  dryRun?: boolean;
  srcTlsVerify?: boolean;
  destTlsVerify?: boolean;
  srcCreds?: string;
  destCreds?: string;
  retryTimes: number;
  parallel: number;
  platform?: string;
  removeSignatures?: boolean;
  caFile?: string;
  json?: boolean;
  quiet?: boolean;
}

/** `true`/`false` of skopeo's `--src-tls-verify=false` (a bare flag is true). */
function bool(flag: string) {
  return (v: string): boolean => {
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new UsageError(`${flag} takes true or false, not "${v}"`);
  };
}

function count(flag: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new UsageError(`${flag} takes a number from ${min} to ${max}, not "${v}"`);
    return n;
  };
}

/** USER:PASSWORD of --src-creds and --dest-creds. */
function credentials(flag: string, v: string | undefined) {
  if (v === undefined) return undefined;
  const i = v.indexOf(':');
  if (i <= 0) throw new UsageError(`${flag} takes USER:PASSWORD, not "${v.split(':')[0]}"`);
  return { username: v.slice(0, i), password: v.slice(i + 1) };
}

/** `kura sync --src docker|yaml --dest docker|oci SRC DST`. */
export function registerSync(program: Command): void {
  const cmd = program
    .command('sync <source> <destination>')
    .description(
      'mirror images as skopeo sync does: --src docker REG/REPO[:TAG] (a repository means all its tags) ' +
        "or --src yaml FILE (skopeo's YAML), to --dest docker HOST/PREFIX (each image at PREFIX/NAME, or the " +
        'whole source path with --scoped) or --dest oci DIR (one OCI layout per repository); only what changed ' +
        'is copied again',
    )
    .option('-s, --src <docker|yaml>', 'SOURCE transport type')
    .option('-d, --dest <docker|oci>', 'DESTINATION transport type')
    .option('-a, --all', 'copy every platform of an index (default: only this machine’s platform, as skopeo)')
    .option('--platform <os/arch[/variant]>', 'the platform picked from an index without --all (default: this machine)')
    .option('--scoped', 'images at DESTINATION keep the full source image path as scope')
    .option('--keep-going', 'do not stop at the first image that fails; fail at the end')
    .option('--dry-run', 'say what would be copied, copy nothing')
    .option('--remove-signatures', 'do not copy signatures, attestations and other referrers along')
    .option(
      '--src-tls-verify [bool]',
      'verify the source registry’s certificate (false: accept any)',
      bool('--src-tls-verify'),
    )
    .option(
      '--dest-tls-verify [bool]',
      'verify the destination registry’s certificate (false: accept any)',
      bool('--dest-tls-verify'),
    )
    .option('--src-creds <user:password>', 'credentials for the source registry (a YAML entry’s credentials win)')
    .option('--dest-creds <user:password>', 'credentials for the destination registry')
    .option('--ca-file <file>', 'trust this PEM CA certificate for the registries (besides the system’s)')
    .option('--retry-times <n>', 'tries of a failed image copy after the first', count('--retry-times', 0, 100), 0)
    .option('--parallel <n>', 'images copied at once', count('--parallel', 1, 64), 4);
  outputFlags(cmd, { json: 'NDJSON: one event per image, then the summary', quiet: 'print only the summary' }).action(
    async (source: string, destination: string, opts: SyncFlags) => {
      if (opts.src !== 'docker' && opts.src !== 'yaml')
        throw new UsageError(`--src takes docker or yaml, not ${opts.src === undefined ? 'nothing' : `"${opts.src}"`}`);
      if (opts.dest !== 'docker' && opts.dest !== 'oci')
        throw new UsageError(
          `--dest takes docker or oci (a directory of OCI layouts; skopeo's dir is not supported), not ` +
            (opts.dest === undefined ? 'nothing' : `"${opts.dest}"`),
        );
      const { dockerSource, parseSyncYaml } = await import('../../sync/sources.js');
      const { runSync } = await import('../../sync/run.js');
      const srcCreds = credentials('--src-creds', opts.srcCreds);
      const flagAccess = { credentials: srcCreds, tlsVerify: opts.srcTlsVerify };
      let sources;
      if (opts.src === 'yaml') {
        const text = await readFile(source, 'utf8').catch((e: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot read the YAML file ${source}: ${e.code ?? e.message}`);
        });
        sources = parseSyncYaml(text, source).map((s) => ({
          ...s,
          access: {
            credentials: s.access.credentials ?? srcCreds,
            tlsVerify: s.access.tlsVerify ?? opts.srcTlsVerify,
          },
        }));
      } else sources = [dockerSource(source, flagAccess)];
      const dest =
        opts.dest === 'docker'
          ? { transport: 'docker' as const, base: destination.replace(/^docker:\/\//, '').replace(/\/+$/, '') }
          : { transport: 'oci' as const, dir: destination.replace(/^oci:/, '') };
      const platform = opts.platform ? (await import('../../oci/platform.js')).parsePlatform(opts.platform) : undefined;
      const verb = { copied: 'copied', unchanged: 'unchanged', failed: 'failed', 'would-copy': 'would copy' };
      const sum = await runSync(sources, dest, {
        scoped: opts.scoped,
        all: opts.all,
        platform,
        dryRun: opts.dryRun,
        keepGoing: opts.keepGoing,
        parallel: opts.parallel,
        retryTimes: opts.retryTimes,
        signatures: !opts.removeSignatures,
        dest: { credentials: credentials('--dest-creds', opts.destCreds), tlsVerify: opts.destTlsVerify },
        location: { caFile: opts.caFile },
        onEvent: (e) => {
          if (opts.json) process.stdout.write(JSON.stringify({ event: 'image', ...e }) + '\n');
          else if (e.status === 'failed') process.stderr.write(`kura: failed: ${e.source}: ${e.error}\n`);
          else if (!opts.quiet)
            process.stdout.write(
              `${verb[e.status]} ${e.source} -> ${e.destination}${e.digest ? ` ${e.digest}` : ''}` +
                (e.attached ? ` (+${e.attached} attached)` : '') +
                '\n',
            );
        },
      });
      const { copied, unchanged, failed, wouldCopy, skipped } = sum;
      const result = { copied, unchanged, failed, ...(opts.dryRun ? { wouldCopy } : {}), skipped };
      emitResult(
        opts,
        result,
        `${opts.dryRun ? `dry run: ${wouldCopy} would be copied, ` : `${copied} copied, `}${unchanged} unchanged, ` +
          `${failed} failed${skipped ? `, ${skipped} not tried` : ''}`,
      );
      if (failed)
        throw new Error(
          `${failed} of ${sum.events.length + skipped} image(s) failed to sync (listed above)` +
            (opts.keepGoing ? '' : '; add --keep-going to sync the others') +
            '; a new run copies only what is still missing',
        );
    },
  );
}
