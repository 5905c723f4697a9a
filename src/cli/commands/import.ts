import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import type { ContainerConfig } from '../../oci/config.js';
import { hostPlatform, parsePlatform } from '../../oci/platform.js';
import { familiar } from '../../oci/familiar.js';
import { normalizeName } from '../../transports/local-store/plan.js';
import { openStore, withStore, type StoreOptions } from '../store.js';
import { collect, jsonFlag } from '../options.js';
import { UsageError } from '../errors.js';

/** JSON array form, or shell form run by /bin/sh -c (as a Dockerfile reads CMD and ENTRYPOINT). */
function commandOf(v: string): string[] {
  if (v.trim().startsWith('[')) {
    const a = JSON.parse(v) as unknown;
    if (Array.isArray(a) && a.every((x) => typeof x === 'string')) return a as string[];
  }
  return ['/bin/sh', '-c', v];
}

/** `--change` instructions, as `docker import --change` takes them (the ones that set runtime settings). */
export function applyChanges(changes: string[]): ContainerConfig {
  const c: ContainerConfig = {};
  for (const ch of changes) {
    const m = /^\s*([A-Za-z]+)\s+(.+)$/s.exec(ch);
    if (!m) throw new UsageError(`--change "${ch}" is not an instruction; write e.g. --change 'CMD ["/bin/sh"]'`);
    const [, word, arg] = m as unknown as [string, string, string];
    const kv = (s: string) => {
      const i = s.indexOf('=');
      return i > 0 ? [s.slice(0, i), s.slice(i + 1)] : (s.split(/\s+(.*)/s) as [string, string]);
    };
    switch (word.toUpperCase()) {
      case 'CMD':
        c.Cmd = commandOf(arg);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = commandOf(arg);
        break;
      case 'ENV': {
        const [k, v] = kv(arg);
        c.Env = [...(c.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v ?? ''}`];
        break;
      }
      case 'LABEL': {
        const [k, v] = kv(arg);
        c.Labels = { ...c.Labels, [k!]: (v ?? '').replace(/^"(.*)"$/, '$1') };
        break;
      }
      case 'WORKDIR':
        c.WorkingDir = arg.trim();
        break;
      case 'USER':
        c.User = arg.trim();
        break;
      case 'EXPOSE':
        for (const p of arg.trim().split(/\s+/))
          c.ExposedPorts = { ...c.ExposedPorts, [p.includes('/') ? p : `${p}/tcp`]: {} };
        break;
      case 'STOPSIGNAL':
        c.StopSignal = arg.trim();
        break;
      default:
        throw new UsageError(
          `--change takes CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE or STOPSIGNAL, not ${word}`,
        );
    }
  }
  return c;
}

type DistributionFlags = { fromDistribution?: string; to?: string; data?: string; json?: boolean };

/**
 * `kura import FILE|- [NAME[:TAG]]`: a root filesystem tar as a one-layer image of the local store, as `docker import`.
 */
export function registerImport(program: Command): void {
  withStore(program.command('import [file] [reference]'))
    .description(
      'make a one-layer image of the local image store from a root filesystem tar (plain, gzip or zstd; - reads ' +
        'stdin), as docker import does',
    )
    .option('-m, --message <text>', 'the history comment (default "Imported from FILE")')
    .option(
      '-c, --change <instruction>',
      'a Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL (repeatable)',
      collect,
      [],
    )
    .option('--platform <os/arch[/variant]>', "the platform the image is for (default: this machine's)")
    .option('--from-distribution <dir>', 'instead: import a registry:2 storage directory (its rootdirectory)')
    .option('--to <config>', 'with --from-distribution: the kura serve config file of the registry to fill')
    .option('--data <dir>', 'with --from-distribution: the data directory of the registry to fill (default ./data)')
    .addOption(jsonFlag('with --from-distribution: print the summary as JSON'))
    .action(
      async (
        file: string | undefined,
        reference: string | undefined,
        o: StoreOptions & { message?: string; change: string[]; platform?: string } & DistributionFlags,
      ) => {
        if (o.fromDistribution !== undefined || o.to !== undefined || o.data !== undefined) {
          if (o.fromDistribution === undefined)
            throw new UsageError(
              '--to and --data go with --from-distribution DIR (kura import --from-distribution DIR)',
            );
          if (file !== undefined) throw new UsageError('kura import takes a FILE or --from-distribution DIR, not both');
          const { importFromDistribution } = await import('./import-distribution.js');
          return importFromDistribution({ ...o, fromDistribution: o.fromDistribution });
        }
        if (file === undefined)
          throw new UsageError(
            'kura import needs a FILE (a root filesystem tar, - for stdin) or --from-distribution DIR',
          );
        const name = reference ? normalizeName(reference).name : undefined;
        const config = applyChanges(o.change);
        if (file === '-' && process.stdin.isTTY)
          throw new Error('no tar on stdin; name a FILE or pipe one in (kura import - NAME < rootfs.tar)');
        const input = file === '-' ? process.stdin : createReadStream(file);
        const opened = new Promise<void>((resolve, reject) =>
          file === '-' ? resolve() : input.once('open', () => resolve()).once('error', reject),
        );
        await opened.catch((e: NodeJS.ErrnoException) => {
          throw new Error(
            e.code === 'ENOENT' ? `${file} does not exist: check the path` : `cannot read ${file}: ${e.message}`,
          );
        });
        const { importRootfs } = await import('../../transports/archive/index.js');
        const { artifact, cleanup } = await importRootfs(input, {
          platform: o.platform ? parsePlatform(o.platform) : hostPlatform(),
          message: o.message,
          source: file,
          config,
        });
        try {
          const store = await openStore(o);
          if (name) await store.writeImage(name, artifact, { repoDigest: false });
          else await store.write(artifact.descriptor.digest, artifact);
          const rec = await store.find(artifact.descriptor.digest);
          if (name) process.stderr.write(`kura import: ${familiar(name)}\n`);
          process.stdout.write(`${rec?.configDigest ?? artifact.descriptor.digest}\n`);
        } finally {
          cleanup();
        }
      },
    );
}
