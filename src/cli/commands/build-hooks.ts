/**
 * `kura build --sbom/--sign/--scan`: after the image is written, the other commands run on each place it went to
 * (`kura sbom --attach`, `kura sign`, `kura scan`), as child processes of this CLI, their output on stderr.
 */
import { spawn } from 'node:child_process';
import { UsageError } from '../errors.js';
import type { RegistryFlags } from '../options.js';

export interface HookFlags extends RegistryFlags {
  sbom?: boolean;
  sign?: boolean;
  key?: string;
  scan?: boolean;
  push?: boolean;
  output: string[];
}

/** Checks the hook flags before the build starts: each one needs somewhere the image goes, signing a key. */
export function checkHooks(o: HookFlags, pushed: string[]): void {
  const any = o.sbom || o.sign || o.scan;
  if (any && !pushed.length && !o.output.length)
    throw new UsageError('--sbom, --sign and --scan act on the pushed image: add --push (with -t) or --output');
  if (o.sign && !o.key)
    throw new UsageError('--sign needs the key: add --key FILE (make one with "kura key generate")');
  if (o.key && !o.sign) throw new UsageError('--key is the signing key of --sign: add --sign');
  if (o.sign && !pushed.length && !o.output.some((l) => l.startsWith('docker://')))
    throw new UsageError('--sign signs an image in a registry: add --push (with -t) or --output docker://REF');
}

/** Runs this CLI with `args`; its stdout and stderr go to our stderr (stdout stays the build's digest). */
function kura(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [process.argv[1]!, ...args], { stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`kura ${args.join(' ')} failed (exit code ${code}); see above`)),
    );
  });
}

/**
 * The hooks for each location the image was written to: `--sbom` attaches an SPDX SBOM (registries and OCI
 * layouts), `--sign --key` signs (registries), `--scan` prints the vulnerability report.
 */
export async function runHooks(o: HookFlags, locations: string[], several: boolean): Promise<void> {
  const reg = [
    ...(o.creds ? ['--creds', o.creds] : []),
    ...(o.plainHttp ? ['--plain-http'] : []),
    ...(o.insecure ? ['--insecure'] : []),
  ];
  for (const loc of locations) {
    const registry = loc.startsWith('docker://');
    if (o.sbom && (registry || loc.startsWith('oci:')))
      await kura(['sbom', ...reg, '--format', 'spdx-json', '--attach', ...(several ? ['--all-platforms'] : []), loc]);
    if (o.sign && registry) await kura(['sign', ...reg, '--key', o.key!, ...(several ? ['--recursive'] : []), loc]);
    if (o.scan) await kura(['scan', ...reg, loc]);
  }
}
