/** `kura mutate` (config and annotations, as crane mutate); the read and write append, rebase, flatten share. */
import type { Command } from 'commander';
import { canClose, type Artifact } from '../../oci/artifact.js';
import type { ContainerConfig } from '../../oci/config.js';
import { UsageError } from '../errors.js';
import { progress } from '../format/progress.js';
import { openImage, remoteOptions, type ImageOptions } from '../image-options.js';
import { collect, emitResult, locationOptions } from '../options.js';

export interface WriteFlags extends ImageOptions {
  tag: string;
  quiet?: boolean;
}

/** The registry flags, `--store`, `--json`, `-q`, `--platform` (which image of an index) and `-t DEST`. */
export function editOptions(cmd: Command): Command {
  return remoteOptions(cmd)
    .option('--platform <os/arch[/variant]>', 'the image of an index to start from (default: this machine)')
    .requiredOption('-t, --tag <location>', 'where the result goes (docker://REF, oci:DIR:TAG, a bare reference)')
    .option('-q, --quiet', 'no progress');
}

/** The image a location names (from an index, the one for --platform or this machine). */
export async function readSource(location: string, opts: ImageOptions): Promise<Artifact> {
  const { root, platform } = await openImage(location, opts);
  const { resolvePlatform } = await import('../../oci/image.js');
  return resolvePlatform(root, platform);
}

/** Writes the result to `-t`, closes an archive, prints its digest (or the NDJSON result). */
export async function writeResult(a: Artifact, opts: WriteFlags): Promise<void> {
  const { openLocation, writeImage } = await import('../../transports/locations.js');
  const to = await openLocation(opts.tag, { ...locationOptions(opts), store: opts.store, forWriting: true });
  const p = progress(opts);
  const d = await writeImage(to, a, { onProgress: p.onProgress });
  if (canClose(to.medium)) await to.medium.close();
  p.finish();
  emitResult(opts, { digest: d.digest, mediaType: d.mediaType, size: d.size }, d.digest);
}

/** KEY=VALUE flags as a map; `what` names the flag in the error. */
export function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i <= 0) throw new UsageError(`${what} "${a}" must be KEY=VALUE`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

/** An entrypoint or command: a JSON array (`["/app","-v"]`) or, as crane takes it, comma-separated words. */
export function argv(s: string, what: string): string[] {
  if (!s.trim().startsWith('[')) return s === '' ? [] : s.split(',');
  try {
    const v = JSON.parse(s) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // fall through to the message
  }
  throw new UsageError(`${what} ${s} is not a JSON array of strings: write '["/bin/app","--flag"]' or /bin/app,--flag`);
}

interface MutateFlags extends WriteFlags {
  entrypoint?: string;
  cmd?: string;
  env: string[];
  label: string[];
  user?: string;
  workdir?: string;
  exposedPorts: string[];
  annotation: string[];
  setPlatform?: string;
}

/** `kura mutate REF -t DEST`. */
export function registerMutate(program: Command): void {
  const cmd = program
    .command('mutate <location>')
    .description(
      "change an image's config (entrypoint, cmd, env, labels, user, workdir, ports, platform) or annotations",
    )
    .option('--entrypoint <argv>', 'the entrypoint: a JSON array or comma-separated words ("" clears it)')
    .option('--cmd <argv>', 'the command: a JSON array or comma-separated words ("" clears it)')
    .option('--env <key=value>', 'set an environment variable (repeatable)', collect, [])
    .option('-l, --label <key=value>', 'set a label (repeatable)', collect, [])
    .option('-u, --user <user>', 'the user (name or uid[:gid])')
    .option('-w, --workdir <dir>', 'the working directory')
    .option('--exposed-ports <port>', 'expose a port, as 8080 or 8080/udp (repeatable)', collect, [])
    .option('-a, --annotation <key=value>', "set an annotation on the image's manifest (repeatable)", collect, [])
    .option('--set-platform <os/arch[/variant]>', "set the platform the config states (crane's --set-platform)");
  editOptions(cmd).action(async (location: string, o: MutateFlags) => {
    const [{ parsePlatform }, mut] = await Promise.all([
      import('../../oci/platform.js'),
      import('../../oci/mutate.js'),
    ]);
    const env = keyValues(o.env, '--env');
    const labels = keyValues(o.label, '--label');
    const annotations = keyValues(o.annotation, '--annotation');
    const entrypoint = o.entrypoint === undefined ? undefined : argv(o.entrypoint, '--entrypoint');
    const command = o.cmd === undefined ? undefined : argv(o.cmd, '--cmd');
    const ports = o.exposedPorts.map((p) => {
      if (!/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(p)) throw new UsageError(`--exposed-ports ${p}: write PORT or PORT/udp`);
      return p.includes('/') ? p : `${p}/tcp`;
    });
    const platform = o.setPlatform ? parsePlatform(o.setPlatform) : undefined;
    let a = await readSource(location, o);
    a = await mut.withConfig(a, (c) => {
      const cc: ContainerConfig = { ...c.config };
      if (entrypoint !== undefined) cc.Entrypoint = entrypoint;
      if (command !== undefined) cc.Cmd = command;
      if (o.user !== undefined) cc.User = o.user;
      if (o.workdir !== undefined) cc.WorkingDir = o.workdir;
      if (ports.length) cc.ExposedPorts = { ...cc.ExposedPorts, ...Object.fromEntries(ports.map((p) => [p, {}])) };
      return { ...c, config: cc };
    });
    if (Object.keys(env).length) a = await mut.withEnv(a, env);
    if (Object.keys(labels).length) a = await mut.withLabels(a, labels);
    if (platform) a = await mut.withPlatform(a, platform);
    if (Object.keys(annotations).length) a = await mut.withAnnotations(a, annotations);
    await writeResult(a, o);
  });
}
