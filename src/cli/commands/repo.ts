/** `kura tags`, `kura catalog` and `kura rm`: a registry's (or layout's) names. */
import type { Command } from 'commander';
import { remoteOptions, type ImageOptions } from '../image-options.js';
import { locationOptions } from '../options.js';
import { UsageError } from '../errors.js';
import type { ParsedLocation } from '../../transports/locations.js';

/** What the actions need, loaded by them: `kura tags --help` loads no transport (start-up). */
async function work() {
  const [artifact, locations, registry, location] = await Promise.all([
    import('../../oci/artifact.js'),
    import('../../transports/locations.js'),
    import('../../transports/registry/repository.js'),
    import('../../transports/registry/location.js'),
  ]);
  return { ...artifact, ...locations, ...registry, ...location };
}

function print(items: string[], json?: boolean): void {
  process.stdout.write(json ? JSON.stringify(items) + '\n' : items.map((t) => `${t}\n`).join(''));
}

/** `kura tags REPO`: the tags of a registry repository (every page) or of an OCI layout. */
export function registerTags(program: Command): void {
  remoteOptions(
    program
      .command('tags <repository>')
      .description('list the tags of a repository (REGISTRY/NAME, docker://…) or of an OCI layout (oci:DIR)'),
    { store: false, mirror: false },
  ).action(async (repository: string, opts: ImageOptions) => {
    const { openLocation, canListTags } = await work();
    const loc = await openLocation(repository, locationOptions(opts));
    const m = loc.medium;
    if (canListTags(m)) print(await m.tags(), opts.json);
    else throw new Error(`${loc.display} cannot list tags; name a registry repository or an OCI layout`);
  });
}

/** `kura catalog REGISTRY`: the repositories a registry lists (`/v2/_catalog`, every page). */
export function registerCatalog(program: Command): void {
  remoteOptions(
    program
      .command('catalog <registry>')
      .description('list the repositories of a registry (host[:port]) through /v2/_catalog'),
    { store: false, mirror: false },
  )
    .option('-n, --max <count>', 'print at most this many repositories', (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`-n takes a positive number, not "${v}"`);
      return n;
    })
    .action(async (registry: string, opts: ImageOptions & { max?: number }) => {
      const host = registry.replace(/^docker:\/\//, '').replace(/\/+$/, '');
      if (!/^[a-zA-Z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host))
        throw new Error(`"${registry}" is not a registry host; write it as host[:port], e.g. localhost:5000`);
      const { registryClient } = await work();
      const client = registryClient(host, locationOptions(opts));
      const all = await client.catalog(Math.min(opts.max ?? 1000, 1000));
      print(opts.max ? all.slice(0, opts.max) : all, opts.json);
    });
}

/** Whether a location names its tag or digest explicitly (a delete never falls back to `latest`). */
function namesRef(p: ParsedLocation): boolean {
  return !p.refDefaulted || (p.transport !== 'docker' && p.transport !== 'oci');
}

/** `kura rm LOCATION`: deletes a tag, or a manifest by digest, from a registry or an OCI layout. */
export function registerRm(program: Command): void {
  remoteOptions(
    program
      .command('rm <location>')
      .description(
        'delete a tag (or a manifest by digest) from a registry or an OCI layout; blobs go at the next gc. Other ' +
          'tags of the same image stay, also on a registry that cannot delete a tag alone (Distribution 2.x: the ' +
          'tag is moved to a throw-away manifest, which is deleted)',
      )
      .option(
        '-f, --force',
        'on a registry that cannot delete a tag alone, delete the manifest the tag names, with every tag of it ' +
          "(skopeo delete's behaviour)",
      ),
    { store: false, mirror: false },
  ).action(async (location: string, opts: ImageOptions & { force?: boolean }) => {
    const { openLocation, parseLocation, RegistryRepository, canDelete } = await work();
    if (!namesRef(parseLocation(location)))
      throw new Error(`name the tag or digest to delete: ${location}:TAG or ${location}@sha256:…`);
    const loc = await openLocation(location, locationOptions(opts));
    const m = loc.medium;
    if (m instanceof RegistryRepository) await m.delete(loc.image ?? loc.ref, { widen: opts.force });
    else if (canDelete(m)) await m.delete(loc.ref);
    else throw new Error(`${loc.display} cannot delete images; name a registry repository or an OCI layout`);
    process.stdout.write(opts.json ? JSON.stringify({ deleted: loc.display }) + '\n' : `Deleted ${loc.display}\n`);
  });
}
