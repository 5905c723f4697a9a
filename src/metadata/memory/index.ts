// The in-memory metadata store for tests and throwaway registries: role tables over shared maps.
import type { MetadataStore } from '../types.js';
import { MemoryAccountTable } from './accounts.js';
import { MemoryAuditLog } from './audit.js';
import { MemoryBlobTable } from './blobs.js';
import { MemoryDb } from './db.js';
import { MemoryGcStore } from './gc.js';
import { MemoryManifestTable } from './manifests.js';
import { MemoryUploadTable } from './uploads.js';
import { MemoryUsageQueries } from './usage.js';

/**
 * In-process metadata. Every method runs synchronously to completion before its promise settles,
 * which is what makes each one atomic.
 */
export class MemoryMetadataStore implements MetadataStore {
  readonly name = 'memory';
  private readonly db = new MemoryDb();
  readonly blobs = new MemoryBlobTable(this.db);
  readonly manifests = new MemoryManifestTable(this.db);
  readonly uploads = new MemoryUploadTable();
  readonly gc = new MemoryGcStore(this.db);
  readonly usage = new MemoryUsageQueries(this.db);
  readonly accounts = new MemoryAccountTable();
  readonly audit = new MemoryAuditLog();

  async close(): Promise<void> {}
}
