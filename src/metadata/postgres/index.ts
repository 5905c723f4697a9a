// The PostgreSQL metadata store: one connection pool shared by the role tables.
import type { MetadataStore } from '../types.js';
import { PgAccountTable } from './accounts.js';
import { PgAuditLog } from './audit.js';
import { PgBlobTable } from './blobs.js';
import { fillTagKeys } from './browse.js';
import { Db, type PgOptions } from './db.js';
import { PgEventOutbox } from './events.js';
import { PgGcStore } from './gc.js';
import { PgCounters, PgLocks } from './locks.js';
import { PgManifestTable } from './manifests.js';
import { PgBlobGoneFeed, type FeedTiming } from './notify.js';
import { PgScanTable } from './scans.js';
import { PgUploadTable } from './uploads.js';
import { PgUsageQueries } from './usage.js';

export type { PgOptions } from './db.js';

/**
 * Metadata in a PostgreSQL database that several replicas may share. Each role table runs its own
 * queries on the shared pool; multi-statement work runs in a transaction that locks the rows it checks.
 */
export class PgMetadataStore implements MetadataStore {
  readonly name = 'postgres';
  readonly blobs: PgBlobTable;
  readonly manifests: PgManifestTable;
  readonly uploads: PgUploadTable;
  readonly gc: PgGcStore;
  readonly usage: PgUsageQueries;
  readonly accounts: PgAccountTable;
  readonly audit: PgAuditLog;
  readonly scans: PgScanTable;
  readonly events: PgEventOutbox;
  readonly locks: PgLocks;
  readonly counters: PgCounters;
  readonly blobsGone: PgBlobGoneFeed;

  /**
   * Connects and applies pending migrations (under an advisory lock: replicas starting together apply them
   * once), then fills the sort keys of tags written before migration 11.
   */
  static async open(opts: PgOptions = {}): Promise<PgMetadataStore> {
    const db = await Db.open(opts);
    try {
      await fillTagKeys(db);
    } catch (e) {
      await db.close();
      throw e;
    }
    return new PgMetadataStore(db, opts.listenTiming);
  }

  private constructor(
    readonly db: Db,
    listenTiming?: Partial<FeedTiming>,
  ) {
    this.events = new PgEventOutbox(db);
    this.blobsGone = new PgBlobGoneFeed(db.config, db.schema, listenTiming);
    this.blobs = new PgBlobTable(db, this.events, this.blobsGone);
    this.manifests = new PgManifestTable(db, this.blobs, this.events);
    this.uploads = new PgUploadTable(db);
    this.gc = new PgGcStore(db, this.blobsGone);
    this.usage = new PgUsageQueries(db);
    this.accounts = new PgAccountTable(db);
    this.audit = new PgAuditLog(db);
    this.scans = new PgScanTable(db);
    this.locks = new PgLocks(db);
    this.counters = new PgCounters(db);
  }

  async close(): Promise<void> {
    await this.blobsGone.close();
    await this.locks.close();
    await this.db.close();
  }
}
