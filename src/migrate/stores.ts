/**
 * Store-to-store migration (`kura migrate`): every repository's blobs, manifests and tags, and the accounts, copied
 * from one opened registry to another through the registry services, whatever drivers are under each (memory, fs,
 * SQLite, and the S3/PostgreSQL drivers through the same interfaces). Each blob's digest is verified as it goes
 * in; a re-run skips what is there.
 */
import type { Digest } from '../oci/digest.js';
import { parseManifest } from '../oci/manifest.js';
import type { MetadataStore } from '../metadata/types.js';
import type { Registry } from '../registry/registry.js';
import { placeBlob } from './place.js';

/** One end of a migration: the registry over a store pair, and its metadata (for snapshots and accounts). */
export interface MigrationEnd {
  registry: Registry;
  meta: MetadataStore;
}

export interface MigrationSummary {
  repositories: number;
  tags: number;
  manifests: number;
  /** Blobs copied (bytes read, digest verified) and blobs mounted from a repository already copied. */
  blobs: number;
  mounted: number;
  bytes: number;
  accounts: number;
  /** Blobs, manifests, tags and accounts already at the destination. */
  skipped: number;
  errors: { repository: string; item: string; message: string }[];
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The blobs a manifest references (config and layers; none for an index). */
function blobsOf(bytes: Buffer, mediaType: string): Digest[] {
  const m = parseManifest(bytes, mediaType, { lenientMediaType: true });
  if (m.kind === 'schema1') return m.blobs;
  if (m.kind === 'index') return [];
  return [m.manifest.config.digest, ...m.manifest.layers.map((l) => l.digest)];
}

/** Copies everything of `from` into `to`. `onRepository` hears of each repository when it is done. */
export async function migrateRegistry(
  from: MigrationEnd,
  to: MigrationEnd,
  onRepository?: (name: string) => void,
): Promise<MigrationSummary> {
  const s: MigrationSummary = {
    repositories: 0,
    tags: 0,
    manifests: 0,
    blobs: 0,
    mounted: 0,
    bytes: 0,
    accounts: 0,
    skipped: 0,
    errors: [],
  };
  for (const a of await from.meta.accounts.list()) {
    try {
      if (await to.meta.accounts.get(a.name)) s.skipped++;
      else {
        await to.meta.accounts.put(a);
        s.accounts++;
      }
    } catch (e) {
      s.errors.push({ repository: '(accounts)', item: a.name, message: errorText(e) });
    }
  }
  const copied = new Map<Digest, string>();
  let last: string | undefined;
  for (;;) {
    const page = await from.meta.manifests.listRepositories({ last, n: 1000 });
    for (const repo of page) {
      await migrateRepository(from, to, repo, s, copied);
      s.repositories++;
      onRepository?.(repo);
    }
    if (page.length < 1000) break;
    last = page[page.length - 1];
  }
  return s;
}

async function migrateRepository(
  from: MigrationEnd,
  to: MigrationEnd,
  repo: string,
  s: MigrationSummary,
  copied: Map<Digest, string>,
): Promise<void> {
  const snap = await from.meta.manifests.snapshot(repo);
  if (!snap) return;
  const fail = (item: string, e: unknown) => s.errors.push({ repository: repo, item, message: errorText(e) });
  const present = (reference: string) =>
    to.registry.statManifest(repo, reference).then(
      (r) => r.digest,
      () => null,
    );
  const done = new Set<Digest>();
  const pending = new Map<Digest, { bytes: Buffer; mediaType: string; children: Digest[] }>();
  for (const m of snap.manifests) {
    try {
      if (await present(m.digest)) {
        s.skipped++;
        done.add(m.digest);
        continue;
      }
      const { record, bytes } = await from.registry.getManifest(repo, m.digest);
      for (const digest of blobsOf(bytes, record.mediaType)) await copyBlob(from, to, repo, digest, s, copied);
      pending.set(m.digest, { bytes, mediaType: record.mediaType, children: m.children });
    } catch (e) {
      fail(m.digest, e);
    }
  }
  // Children before their index.
  while (pending.size > 0) {
    const ready = [...pending].filter(([, p]) => p.children.every((c) => !pending.has(c)));
    if (ready.length === 0) {
      for (const d of pending.keys()) fail(d, new Error('its index children form a cycle'));
      break;
    }
    for (const [digest, p] of ready) {
      pending.delete(digest);
      try {
        await to.registry.putManifest(repo, digest, p.mediaType, p.bytes);
        done.add(digest);
        s.manifests++;
      } catch (e) {
        fail(digest, e);
      }
    }
  }
  for (const t of snap.tags) {
    try {
      if ((await present(t.name)) === t.digest) {
        s.skipped++;
        continue;
      }
      if (!done.has(t.digest)) throw new Error(`its manifest ${t.digest} was not copied`);
      const { record, bytes } = await from.registry.getManifest(repo, t.digest);
      await to.registry.putManifest(repo, t.name, record.mediaType, bytes);
      s.tags++;
    } catch (e) {
      fail(`tag ${t.name}`, e);
    }
  }
}

async function copyBlob(
  from: MigrationEnd,
  to: MigrationEnd,
  repo: string,
  digest: Digest,
  s: MigrationSummary,
  copied: Map<Digest, string>,
): Promise<void> {
  await placeBlob(to.registry, repo, digest, s, copied, () => from.registry.readBlob(repo, digest));
}
