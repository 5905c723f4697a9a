/** `kura pull` and `kura push`: between a registry and the local image store. */
import type { Command } from 'commander';
import { canListTags } from '../../oci/artifact.js';
import { parseImageReference, type ImageReference } from '../../oci/imageref.js';
import { parsePlatform } from '../../oci/platform.js';
import { familiar } from '../../oci/familiar.js';
import type { LocalStore } from '../../transports/local-store/index.js';
import type { RegistryRepository } from '../../transports/registry/index.js';
import { UsageError } from '../errors.js';
import { progress } from '../format/progress.js';
import { emitResult, locationOptions, outputFlags, registryFlags, type RegistryFlags } from '../options.js';
import { openStore, withStore, type StoreOptions } from '../store.js';

interface RemoteOptions extends StoreOptions, RegistryFlags {
  allTags?: boolean;
  quiet?: boolean;
  json?: boolean;
}

const info = (o: RemoteOptions, line: string) => {
  if (!o.quiet && !o.json) process.stderr.write(line + '\n');
};
const repoName = (r: ImageReference) => `${r.registry}/${r.repository}`;

/** Pulls `ref` from `source`, the repository's one client (its token cache serves every tag). */
async function pullOne(
  store: LocalStore,
  source: RegistryRepository,
  ref: ImageReference,
  o: RemoteOptions & { platform?: string },
): Promise<void> {
  info(o, `${ref.digest ?? ref.tag}: Pulling from ${ref.repository}`);
  const artifact = await source.get(ref);
  const p = progress({ json: o.json, quiet: o.quiet });
  const { normalizeName } = await import('../../transports/local-store/index.js');
  const name = normalizeName(`${repoName(ref)}${ref.digest ? `@${ref.digest}` : `:${ref.tag}`}`).name;
  const platform = o.platform ? parsePlatform(o.platform) : undefined;
  const r = await store.writeImage(name, artifact, {
    platform,
    strictPlatform: !!platform,
    onProgress: p.onProgress,
    repoDigest: `${repoName(ref)}@${artifact.descriptor.digest}`,
  });
  p.finish();
  info(o, `Digest: ${artifact.descriptor.digest}`);
  info(o, `Status: ${r.changed ? 'Downloaded newer image' : 'Image is up to date'} for ${familiar(name)}`);
  if (o.json) {
    const result = {
      name,
      digest: artifact.descriptor.digest,
      id: r.image.configDigest ?? r.image.digest,
      platform: r.image.platform,
      status: r.changed ? 'downloaded' : 'up-to-date',
    };
    emitResult(o, result);
  } else process.stdout.write(`${name}\n`);
}

const remoteOptions = (cmd: Command, mirror: boolean) => {
  const quiet = 'print only the image name (pull) or digest (push)';
  const help = { quiet, json: 'NDJSON progress events and a result line on stdout' };
  return registryFlags(outputFlags(withStore(cmd), help), { mirror });
};

/** `kura pull NAME[:TAG|@DIGEST]`: from a registry into the local image store, one platform. */
export function registerPull(program: Command): void {
  remoteOptions(program.command('pull <name>'), true)
    .description(
      "pull an image from a registry into the local image store (one platform of an index: this machine's, or " +
        '--platform)',
    )
    .option('--platform <os/arch[/variant]>', 'the platform to take from a multi-platform index, e.g. linux/arm64')
    .option('-a, --all-tags', 'pull every tag of the repository')
    .action(async (given: string, o: RemoteOptions & { platform?: string }) => {
      const transport = /^(oci|oci-archive|docker-archive|local|dir):/.exec(given)?.[1];
      if (transport === 'local')
        throw new UsageError(`${given} is in the local image store already; kura pull reads a registry`);
      if (transport) {
        const load =
          transport === 'docker-archive'
            ? ` (or kura load -i ${given.slice(transport.length + 1).replace(/:[^/]*$/, '')})`
            : '';
        throw new UsageError(
          `kura pull reads a registry, not ${transport}:; copy it into the local store with kura copy ${given} ` +
            `local:NAME[:TAG]${load}`,
        );
      }
      const nameArg = given.replace(/^docker:\/\//, '');
      const store = await openStore(o);
      const ref = parseImageReference(nameArg);
      if (o.allTags && !ref.tagDefaulted)
        throw new UsageError(`--all-tags takes a repository without a tag or digest: kura pull -a ${repoName(ref)}`);
      const { openRegistry } = await import('../../transports/registry/location.js');
      const medium = (await openRegistry(ref, locationOptions(o))).medium;
      if (!o.allTags) {
        if (ref.tagDefaulted) info(o, 'Using default tag: latest');
        return pullOne(store, medium, ref, o);
      }
      const tags = canListTags(medium) ? await medium.tags() : [];
      if (!tags.length) throw new Error(`${repoName(ref)} has no tags to pull`);
      for (const tag of tags)
        await pullOne(store, medium, { registry: ref.registry, repository: ref.repository, tag }, o);
    });
}

/** `kura push NAME[:TAG]`: from the local image store to the registry the name points at. */
export function registerPush(program: Command): void {
  remoteOptions(program.command('push <name>'), false)
    .description(
      'push an image of the local image store to the registry its name points at (kura tag gives it such a name)',
    )
    .option('-a, --all-tags', 'push every tag of the repository that the store holds')
    .option(
      '--compress <gzip|zstd|none>',
      "compress plain-tar layers (a loaded image's) this way; compressed layers go as they are (default gzip)",
      'gzip',
    )
    .action(async (nameArg: string, o: RemoteOptions & { compress: string }) => {
      if (o.compress !== 'gzip' && o.compress !== 'zstd' && o.compress !== 'none')
        throw new UsageError(`--compress takes gzip, zstd or none, not "${o.compress}"`);
      const store = await openStore(o);
      const ref = parseImageReference(nameArg);
      if (ref.digest)
        throw new UsageError(
          `push takes a tag, not a digest: kura tag ${nameArg} ${repoName(ref)}:TAG, then push that`,
        );
      const repo = repoName(ref);
      const { normalizeName } = await import('../../transports/local-store/index.js');
      const names = o.allTags
        ? (await store.tags()).filter((n) => n.startsWith(`${repo}:`))
        : [normalizeName(nameArg).name];
      for (const name of names) {
        if (!(await store.find(name))) {
          throw new Error(
            `no image ${familiar(name)} in the image store ${store.dir}: pull it (kura pull ${familiar(name)}) or ` +
              `name a local image so (kura tag IMAGE ${familiar(name)})`,
          );
        }
      }
      if (!names.length)
        throw new Error(
          `the image store ${store.dir} has no tags of ${familiar(repo)}; name an image with kura tag IMAGE ` +
            `${familiar(repo)}:TAG`,
        );
      info(o, `The push refers to repository [${repo}]`);
      const { registryLocation } = await import('../../transports/registry/location.js');
      const dest = registryLocation(ref, { ...locationOptions(o), forWriting: true }).medium;
      for (const name of names) {
        const tag = name.slice(repo.length + 1);
        const p = progress({ json: o.json, quiet: o.quiet });
        const { pushable } = await import('./push-layers.js');
        const sent = await pushable(store, await store.get(name), o.compress);
        process.once('exit', sent.cleanup);
        if (sent.how) info(o, `${familiar(name)}: pushing ${sent.how}`);
        const a = sent.artifact;
        // The registry transport reports each blob: uploaded, already there (skipped) or mounted.
        const d = await dest.write(tag, a, { onProgress: p.onProgress });
        p.finish();
        // Pushed: the name now holds what the registry holds, with its repo digest (as after docker push).
        await store.writeImage(name, a, { repoDigest: `${repo}@${d.digest}` });
        sent.cleanup();
        if (o.json) emitResult(o, { name, digest: d.digest, size: a.manifest.length });
        else if (o.quiet) process.stdout.write(`${d.digest}\n`);
        else process.stdout.write(`${tag}: digest: ${d.digest} size: ${a.manifest.length}\n`);
      }
    });
}
