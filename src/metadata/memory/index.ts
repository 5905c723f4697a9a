// The in-memory metadata store for tests and throwaway registries: role tables over shared maps.
import type { MetadataStore } from '../types.js';
import { MemoryAccountTable } from './accounts.js';
import { MemoryAuditLog } from './audit.js';
import { MemoryBlobTable } from './blobs.js';
import { MemoryDb } from './db.js';
import { MemoryEventOutbox } from './events.js';
import { MemoryGcStore } from './gc.js';
import { MemoryManifestTable } from './manifests.js';
import { MemoryScanTable } from './scans.js';
import { MemoryUploadTable } from './uploads.js';
import { MemoryUsageQueries } from './usage.js';

/**
 * In-process metadata. Every method runs synchronously to completion before its promise settles,
 * which is what makes each one atomic.
 */
export class MemoryMetadataStore implements MetadataStore {
  readonly name = 'memory';
  private readonly db: MemoryDb;
  readonly blobs: MemoryBlobTable;
  readonly manifests: MemoryManifestTable;
  readonly uploads = new MemoryUploadTable();
  readonly gc: MemoryGcStore;
  readonly usage: MemoryUsageQueries;
  readonly accounts = new MemoryAccountTable();
  readonly audit = new MemoryAuditLog();
  readonly scans: MemoryScanTable;
  readonly events: MemoryEventOutbox;

  /** `now`: the clock rows are stamped with (created_at of blobs, tag times); Date.now unless a test injects one. */
  constructor(opts: { now?: () => number } = {}) {
    this.db = new MemoryDb(opts.now);
    this.blobs = new MemoryBlobTable(this.db);
    this.manifests = new MemoryManifestTable(this.db);
    this.gc = new MemoryGcStore(this.db);
    this.usage = new MemoryUsageQueries(this.db);
    this.events = new MemoryEventOutbox(this.db);
    this.scans = new MemoryScanTable(this.db, (repo, tag) => this.manifests.tagPushedAt(repo, tag));
  }

  async close(): Promise<void> {}
}
