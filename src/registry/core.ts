/**
 * What the registry's services share: the two stores, the clock, the locks and the caches. Built once
 * by the Registry facade; a service takes the core and the other services it needs, never the facade.
 */
import type { MetadataStore, OutboxEntry } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { BlobStore } from '../storage/types.js';
import { requestScope, type EventAction, type EventTarget } from './events.js';
import { locksFor, type Locks } from './lock.js';
import { BlobLinkCache, LookupCache } from './lookups.js';
import type { RegistryOptions } from './options.js';
import { SharedTouches } from './touches.js';

export class RegistryCore {
  readonly now: () => number;
  /** How long fresh blobs are safe from GC (ms). */
  readonly graceMs: number;
  /**
   * Serialises, per digest, GC's sweep with anything that makes those bytes live again: across replicas when
   * the store has shared locks (PostgreSQL), else in this process.
   */
  readonly digestLock: Locks;
  readonly lookups: LookupCache;
  /** Blob links for HEADs and GETs, kept exact by the store's feed of removals (none: not cached). */
  readonly blobLinks: BlobLinkCache;
  /** Last HEAD/GET of each blob: a lease in memory, so reads stay free of writes (see README.md). */
  readonly blobTouches = new Map<Digest, number>();
  /** When other processes share the store, the same touches written to it in batches (their collectors read them). */
  readonly sharedTouches: SharedTouches | undefined;

  constructor(
    readonly blobs: BlobStore,
    readonly meta: MetadataStore,
    readonly options: RegistryOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.graceMs = options.gcGraceMs ?? 3_600_000;
    this.lookups = new LookupCache(options.cacheLookups === true);
    this.blobLinks = new BlobLinkCache(meta.blobsGone);
    this.digestLock = locksFor(meta.locks, 'digest');
    const { gc } = meta;
    this.sharedTouches =
      options.sharedMetadata && gc.touch ? new SharedTouches({ touch: gc.touch.bind(gc) }, this.graceMs) : undefined;
  }

  /** A blob HEAD or GET: protects it from GC for the grace period, in every process sharing the store. */
  touch(digest: Digest): void {
    const now = this.now();
    this.blobTouches.set(digest, now);
    this.sharedTouches?.note(digest, now);
  }

  /** The outbox rows of a change (none without `notifications`), for the metadata write that makes it. */
  events(action: EventAction, ...targets: EventTarget[]): OutboxEntry[] | undefined {
    const recorder = this.options.events;
    if (!recorder) return undefined;
    const request = requestScope.getStore();
    return targets.flatMap((t) => recorder.entries(action, t, request));
  }

  /**
   * Writes the outbox rows of a pull through the API (inside a request's scope; the UI's reads are no pulls).
   * A pull changes nothing, so its events have no transaction to join.
   */
  async recordRead(target: EventTarget): Promise<void> {
    if (!this.options.events || !requestScope.getStore()) return;
    const rows = this.events('pull', target);
    if (rows && rows.length > 0) await this.meta.events.append(rows);
  }

  requireDelete(): void {
    if (!this.options.deleteEnabled) {
      throw new OciError('UNSUPPORTED', 'deletion is disabled on this registry (set delete.enabled: true)');
    }
  }
}
