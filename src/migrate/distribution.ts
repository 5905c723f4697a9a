/**
 * Import from registry:2 (CNCF Distribution) filesystem storage: its blobs, manifests and tags go into a Kura
 * registry through the registry services, each blob's digest verified as it streams in. Re-running skips what is
 * already there. The layout read (`docker/registry/v2`): blobs/sha256/XX/HEX/data; repositories/NAME/_layers/
 * sha256/HEX/link (blobs linked to the repository), _manifests/revisions/sha256/HEX/link (its manifests),
 * _manifests/tags/TAG/current/link (its tags).
 */
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { digestOf, isDigest, type Digest } from '../oci/digest.js';
import { isRepositoryName } from '../oci/names.js';
import type { Registry } from '../registry/registry.js';
import { placeBlob } from './place.js';

export interface ImportSummary {
  repositories: number;
  /** Tags set (or found already set to the same digest: counted in `skipped`). */
  tags: number;
  manifests: number;
  /** Blobs uploaded (verified) and linked; `mounted` are blobs linked from another imported repository. */
  blobs: number;
  mounted: number;
  bytes: number;
  /** Blobs, manifests and tags already present (a re-run). */
  skipped: number;
  errors: { repository: string; item: string; message: string }[];
}

export interface ImportEvents {
  /** A repository is done (its counts since the previous call). */
  repository?(name: string, counts: { blobs: number; manifests: number; tags: number; skipped: number }): void;
}

/** The `docker/registry/v2` folder under `dir` (the registry's rootdirectory), or `dir` itself if it is one. */
export function distributionRoot(dir: string): string {
  for (const candidate of [join(dir, 'docker', 'registry', 'v2'), dir]) {
    if (existsSync(join(candidate, 'repositories')) && existsSync(join(candidate, 'blobs'))) return candidate;
  }
  throw new Error(
    `${dir} holds no registry:2 storage (docker/registry/v2/{blobs,repositories}); name the directory set as ` +
      `storage.filesystem.rootdirectory in the registry's config`,
  );
}

/** Subdirectories (never symlinks: nothing is followed out of the tree). */
function dirs(path: string): string[] {
  if (!existsSync(path)) return [];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Repository names under `repositories/`: a folder holding _manifests or _layers is one (names nest). */
export function listRepositories(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string[]) => {
    const here = join(root, 'repositories', ...rel);
    const children = dirs(here);
    if (rel.length > 0 && (children.includes('_manifests') || children.includes('_layers'))) out.push(rel.join('/'));
    for (const c of children) if (!c.startsWith('_')) walk([...rel, c]);
  };
  walk([]);
  return out;
}

/** The digest a link file names, or null when the file is missing or holds no digest. */
function readLink(path: string): Digest | null {
  try {
    if (!lstatSync(path).isFile()) return null;
    const text = readFileSync(path, 'utf8').trim();
    return isDigest(text) ? text : null;
  } catch {
    return null;
  }
}

/** The digests of `<base>/sha256/HEX/link` files. */
function links(base: string): Digest[] {
  const out: Digest[] = [];
  for (const alg of dirs(base)) {
    for (const hex of dirs(join(base, alg))) {
      const d = readLink(join(base, alg, hex, 'link'));
      if (d && d === `${alg}:${hex}`) out.push(d);
    }
  }
  return out;
}

function blobPath(root: string, digest: Digest): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return join(root, 'blobs', alg, hex.slice(0, 2), hex, 'data');
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Imports every repository of the registry:2 storage at `dir` into `registry`. */
export async function importDistribution(
  registry: Registry,
  dir: string,
  events: ImportEvents = {},
): Promise<ImportSummary> {
  const root = distributionRoot(dir);
  const s: ImportSummary = {
    repositories: 0,
    tags: 0,
    manifests: 0,
    blobs: 0,
    mounted: 0,
    bytes: 0,
    skipped: 0,
    errors: [],
  };
  /** Where each blob already is, so another repository mounts it instead of hashing it again. */
  const imported = new Map<Digest, string>();
  for (const repo of listRepositories(root)) {
    if (!isRepositoryName(repo)) {
      s.errors.push({ repository: repo, item: '(name)', message: 'not a valid repository name; skipped' });
      continue;
    }
    const before = { blobs: s.blobs + s.mounted, manifests: s.manifests, tags: s.tags, skipped: s.skipped };
    await importBlobs(registry, root, repo, s, imported);
    await importManifests(registry, root, repo, s);
    s.repositories++;
    events.repository?.(repo, {
      blobs: s.blobs + s.mounted - before.blobs,
      manifests: s.manifests - before.manifests,
      tags: s.tags - before.tags,
      skipped: s.skipped - before.skipped,
    });
  }
  return s;
}

async function importBlobs(
  registry: Registry,
  root: string,
  repo: string,
  s: ImportSummary,
  imported: Map<Digest, string>,
): Promise<void> {
  for (const digest of links(join(root, 'repositories', repo, '_layers'))) {
    try {
      await placeBlob(registry, repo, digest, s, imported, async () => {
        const path = blobPath(root, digest);
        if (!existsSync(path)) throw new Error(`its data is missing (${path})`);
        return { size: lstatSync(path).size, stream: createReadStream(path) };
      });
    } catch (e) {
      s.errors.push({ repository: repo, item: digest, message: errorText(e) });
    }
  }
}

interface Revision {
  digest: Digest;
  bytes: Buffer;
  mediaType: string | undefined;
  children: Digest[];
}

/** Reads a manifest revision's bytes and checks them against its digest. */
function readRevision(root: string, digest: Digest): Revision {
  const path = blobPath(root, digest);
  if (!existsSync(path)) throw new Error(`its data is missing (${path})`);
  const bytes = readFileSync(path);
  const actual = digestOf(bytes, digest.startsWith('sha512:') ? 'sha512' : 'sha256');
  if (actual !== digest) throw new Error(`its data hashes to ${actual}: the storage is corrupt`);
  const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: { digest?: unknown }[] };
  const children = (Array.isArray(doc.manifests) ? doc.manifests : [])
    .map((m) => m?.digest)
    .filter((d): d is Digest => typeof d === 'string' && isDigest(d));
  return { digest, bytes, mediaType: typeof doc.mediaType === 'string' ? doc.mediaType : undefined, children };
}

async function importManifests(registry: Registry, root: string, repo: string, s: ImportSummary): Promise<void> {
  const base = join(root, 'repositories', repo, '_manifests');
  const present = (reference: string) =>
    registry.statManifest(repo, reference).then(
      (r) => r.digest,
      () => null,
    );
  const pending = new Map<Digest, Revision>();
  const done = new Set<Digest>();
  for (const digest of links(join(base, 'revisions'))) {
    try {
      if (await present(digest)) {
        s.skipped++;
        done.add(digest);
        continue;
      }
      pending.set(digest, readRevision(root, digest));
    } catch (e) {
      s.errors.push({ repository: repo, item: digest, message: errorText(e) });
    }
  }
  // Children before their index: each pass puts the manifests whose children are all in.
  while (pending.size > 0) {
    const ready = [...pending.values()].filter((r) => r.children.every((c) => done.has(c) || !pending.has(c)));
    if (ready.length === 0) {
      for (const r of pending.values()) {
        s.errors.push({ repository: repo, item: r.digest, message: 'its index children form a cycle' });
      }
      break;
    }
    for (const r of ready) {
      pending.delete(r.digest);
      try {
        await registry.putManifest(repo, r.digest, r.mediaType, r.bytes);
        done.add(r.digest);
        s.manifests++;
      } catch (e) {
        s.errors.push({ repository: repo, item: r.digest, message: errorText(e) });
      }
    }
  }
  for (const tag of dirs(join(base, 'tags'))) {
    const digest = readLink(join(base, 'tags', tag, 'current', 'link'));
    if (!digest) continue; // a tag folder without a current link: deleted in registry:2
    try {
      if ((await present(tag)) === digest) {
        s.skipped++;
        continue;
      }
      if (!done.has(digest)) throw new Error(`its manifest ${digest} was not imported`);
      const r = readRevision(root, digest);
      await registry.putManifest(repo, tag, r.mediaType, r.bytes);
      s.tags++;
    } catch (e) {
      s.errors.push({ repository: repo, item: `tag ${tag}`, message: errorText(e) });
    }
  }
}
