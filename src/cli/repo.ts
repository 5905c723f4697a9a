import type { Command } from 'commander';
import { canDelete, canListTags } from '../oci/artifact.js';
import { RegistryClient, RegistryRepository } from '../transports/registry.js';
import { nextLink, remoteOptions, responseError, type ImageOptions } from './image-options.js';
import { openLocation, parseCreds, splitPathRef } from './locations.js';

/** Every page of a paginated registry list (`tags`, `repositories`), up to `max` items. */
async function paged(client: RegistryClient, first: string, scope: string, key: 'tags' | 'repositories', what: string, max = Infinity): Promise<string[]> {
  const out: string[] = [];
  for (let path: string | undefined = first; path && out.length < max; ) {
    const res = await client.request('GET', path, scope);
    if (!res.ok) throw await responseError(res, what);
    out.push(...(((await res.json()) as Record<string, string[] | null>)[key] ?? []));
    path = nextLink(res);
  }
  return out.slice(0, max);
}

function print(items: string[], json?: boolean): void {
  process.stdout.write(json ? JSON.stringify(items) + '\n' : items.map((t) => `${t}\n`).join(''));
}

/** `kura tags REPO`: the tags of a registry repository (every page) or of an OCI layout. */
export function registerTags(program: Command): void {
  remoteOptions(program.command('tags <repository>').description('list the tags of a repository (REGISTRY/NAME, docker://…) or of an OCI layout (oci:DIR)')).action(
    async (repository: string, opts: ImageOptions) => {
      const loc = await openLocation(repository, { creds: opts.creds, plainHttp: opts.plainHttp });
      const m = loc.medium;
      if (m instanceof RegistryRepository) {
        const what = `tags of ${m.client.opts.registry}/${m.repo}`;
        print(await paged(m.client, `/v2/${m.repo}/tags/list`, `repository:${m.repo}:pull`, 'tags', what), opts.json);
      } else if (canListTags(m)) print(await m.tags(), opts.json);
      else throw new Error(`${loc.display} cannot list tags; name a registry repository or an OCI layout`);
    },
  );
}

/** `kura catalog REGISTRY`: the repositories a registry lists (`/v2/_catalog`, every page). */
export function registerCatalog(program: Command): void {
  remoteOptions(program.command('catalog <registry>').description('list the repositories of a registry (host[:port]) through /v2/_catalog'))
    .option('-n, --max <count>', 'print at most this many repositories', (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`-n takes a positive number, not "${v}"`);
      return n;
    })
    .action(async (registry: string, opts: ImageOptions & { max?: number }) => {
      const host = registry.replace(/^docker:\/\//, '').replace(/\/+$/, '');
      if (!/^[a-zA-Z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) throw new Error(`"${registry}" is not a registry host; write it as host[:port], e.g. localhost:5000`);
      const client = new RegistryClient({ registry: host === 'docker.io' ? 'registry-1.docker.io' : host, plainHttp: opts.plainHttp, credentials: parseCreds(opts.creds) });
      const n = Math.min(opts.max ?? 1000, 1000);
      print(await paged(client, `/v2/_catalog?n=${n}`, 'registry:catalog:*', 'repositories', `catalog of ${host}`, opts.max), opts.json);
    });
}

/** Whether a location names its tag or digest explicitly (a delete never falls back to `latest`). */
function namesRef(location: string): boolean {
  if (location.startsWith('oci:')) return splitPathRef(location.slice(4), '') [1] !== '';
  const ref = location.replace(/^docker:\/\//, '');
  return ref.includes('@') || ref.slice(ref.lastIndexOf('/') + 1).includes(':');
}

/** `kura rm LOCATION`: deletes a tag, or a manifest by digest, from a registry or an OCI layout. */
export function registerRm(program: Command): void {
  remoteOptions(program.command('rm <location>').description('delete a tag (or a manifest by digest) from a registry or an OCI layout; blobs go at the next gc')).action(
    async (location: string, opts: ImageOptions) => {
      if (!namesRef(location)) throw new Error(`name the tag or digest to delete: ${location}:TAG or ${location}@sha256:…`);
      const loc = await openLocation(location, { creds: opts.creds, plainHttp: opts.plainHttp });
      const m = loc.medium;
      if (m instanceof RegistryRepository && !canDelete(m)) {
        const res = await m.client.request('DELETE', `/v2/${m.repo}/manifests/${loc.ref}`, `repository:${m.repo}:delete`);
        if (!res.ok) {
          const e = await responseError(res, `delete ${loc.display}`);
          throw res.status === 405 && !loc.ref.includes(':') ? new Error(`${e.message}; some registries delete only by digest: kura rm ${loc.display.replace(/:[^:/@]+$/, '')}@sha256:…`) : e;
        }
        await res.body?.cancel();
      } else if (canDelete(m)) await m.delete(loc.ref);
      else throw new Error(`${loc.display} cannot delete images; name a registry repository or an OCI layout`);
      process.stdout.write(opts.json ? JSON.stringify({ deleted: loc.display }) + '\n' : `Deleted ${loc.display}\n`);
    },
  );
}
