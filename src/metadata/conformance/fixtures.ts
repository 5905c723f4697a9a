// Shared pieces of the metadata conformance suites: the store factory, sample records, the per-test store.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe } from 'node:test';
import { digestOf, type Digest } from '../../oci/digest.js';
import type { ManifestRecord, ManifestRefs, MetadataStore } from '../types.js';

/** Called once per test; must return an empty store. `cleanup` closes it and removes what it left behind. */
export type StoreFactory = () => Promise<{ store: MetadataStore; cleanup: () => Promise<void> }>;

/** The store of the running test (set before each test by `runSuites`). */
export interface Ctx {
  store: MetadataStore;
}

/** A role's tests, declared inside the conformance `describe` and reading the store from `ctx`. */
export type Suite = (ctx: Ctx) => void;

export const IMAGE = 'application/vnd.oci.image.manifest.v1+json';
export const INDEX = 'application/vnd.oci.image.index.v1+json';
export const NO_REFS: ManifestRefs = { blobs: [], manifests: [] };

/** The order SQLite's BINARY collation gives: compare UTF-8 bytes. */
export function bytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function blob(label: string): Digest {
  return digestOf(`blob ${label}`);
}

export function manifest(repo: string, label: string, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  const digest = digestOf(`manifest ${label}`);
  return {
    repo,
    digest,
    mediaType: IMAGE,
    size: 100 + label.length,
    artifactType: null,
    subject: null,
    annotations: null,
    createdAt: 1_700_000_000_000,
    ...extra,
  };
}

/** The running test's store, each role looked up when used: a suite holds this, not the store of one test. */
export function currentStore(ctx: Ctx): MetadataStore {
  return {
    get name() {
      return ctx.store.name;
    },
    get blobs() {
      return ctx.store.blobs;
    },
    get manifests() {
      return ctx.store.manifests;
    },
    get uploads() {
      return ctx.store.uploads;
    },
    get gc() {
      return ctx.store.gc;
    },
    get usage() {
      return ctx.store.usage;
    },
    get accounts() {
      return ctx.store.accounts;
    },
    get audit() {
      return ctx.store.audit;
    },
    get scans() {
      return ctx.store.scans;
    },
    get events() {
      return ctx.store.events;
    },
    close: () => ctx.store.close(),
  };
}

/** A manifest stored with its blobs uploaded first, as a client would push it. */
export function pusher(store: MetadataStore) {
  return async (rec: ManifestRecord, tags: string[] = [], blobs: Digest[] = []): Promise<void> => {
    for (const d of blobs) await store.blobs.add(rec.repo, d, 10);
    assert.deepEqual(await store.manifests.put(rec, { blobs, manifests: [] }, tags), { missing: [] });
  };
}

/** Declares `suites` against a fresh store per test, under one `describe`. */
export function runSuites(title: string, create: StoreFactory, suites: Suite[]): void {
  describe(title, () => {
    const ctx = {} as Ctx;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store: ctx.store, cleanup } = await create());
    });
    afterEach(async () => {
      await cleanup();
    });
    for (const suite of suites) suite(ctx);
  });
}
