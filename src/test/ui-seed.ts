/** Test and bench helper (not a test): big repositories written straight into a metadata store; SQL counting. */
import { createRequire } from 'node:module';
import type { MetadataStore } from '../metadata/types.js';
import { digestOf } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';

/** Version-like, build-like and plain tags, `perManifest` of them on each manifest (so deletes remove several). */
export function seedTagNames(i: number, perManifest: number): string[] {
  const all = [`v${i % 7}.${i % 13}.${i}`, `build-${i}`, `${i}`, `rel-${i}-rc.${i % 3}`, `sha-${i.toString(16)}`];
  return all.slice(0, perManifest);
}

/** Writes `tags` tags of `repo` over tags / perManifest image manifests (config + one layer each). */
export async function seedTags(meta: MetadataStore, repo: string, tags: number, perManifest = 5): Promise<void> {
  const manifests = Math.ceil(tags / perManifest);
  for (let i = 0; i < manifests; i++) {
    const config = digestOf(`ui-seed config ${repo} ${i}`);
    const layer = digestOf(`ui-seed layer ${repo} ${i}`);
    await meta.blobs.add(repo, config, 300 + i);
    await meta.blobs.add(repo, layer, 1_000_000 + i * 100);
    const rec = {
      repo,
      digest: digestOf(`ui-seed manifest ${repo} ${i}`),
      mediaType: MediaTypes.OciManifest,
      size: 500,
      artifactType: MediaTypes.OciConfig,
      subject: null,
      annotations: null,
      createdAt: 1_700_000_000_000 + i * 1000,
    };
    const names = seedTagNames(i, Math.min(perManifest, tags - i * perManifest));
    const r = await meta.manifests.put(rec, { blobs: [config, layer], manifests: [] }, names);
    if (r.missing.length) throw new Error(`seed: missing ${r.missing.join(', ')}`);
  }
}

/** Writes `count` repositories named `prefix/NNNNN`, one tagged manifest each. */
export async function seedRepositories(meta: MetadataStore, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await seedTags(meta, `${prefix}/${String(i).padStart(5, '0')}`, 1, 1);
}

type Counted = Record<'all' | 'get' | 'run' | 'iterate', (...a: unknown[]) => unknown>;

/**
 * Counts the better-sqlite3 statements executed (all/get/run/iterate, in this process) while `fn` runs.
 * Statements share one prototype, so wrapping it sees every store's statements.
 */
export async function countStatements<T>(fn: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const Database = createRequire(import.meta.url)('better-sqlite3') as new (f: string) => {
    prepare(sql: string): object;
    close(): void;
  };
  const db = new Database(':memory:');
  const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Counted;
  db.close();
  let statements = 0;
  const saved = { ...proto };
  for (const k of ['all', 'get', 'run', 'iterate'] as const) {
    const orig = proto[k];
    proto[k] = function (this: unknown, ...a: unknown[]) {
      statements++;
      return orig.apply(this, a);
    };
  }
  try {
    return { result: await fn(), statements };
  } finally {
    for (const k of ['all', 'get', 'run', 'iterate'] as const) proto[k] = saved[k];
  }
}
