// The SQLite metadata store: one database handle shared by the role tables.
import type { MetadataStore } from '../types.js';
import { SqliteAccountTable } from './accounts.js';
import { SqliteAuditLog } from './audit.js';
import { SqliteBlobTable } from './blobs.js';
import { Db } from './db.js';
import { SqliteEventOutbox } from './events.js';
import { SqliteGcStore } from './gc.js';
import { fillTagKeys } from './browse.js';
import { SqliteManifestTable } from './manifests.js';
import { SqliteScanTable } from './scans.js';
import { SqliteUploadTable } from './uploads.js';
import { SqliteUsageQueries } from './usage.js';

/**
 * Metadata in one SQLite file. Each role table prepares its own statements on the shared `Db`;
 * multi-statement work runs in a transaction so other processes sharing the file see it atomically.
 */
export class SqliteMetadataStore implements MetadataStore {
  readonly name = 'sqlite';
  readonly blobs: SqliteBlobTable;
  readonly manifests: SqliteManifestTable;
  readonly uploads: SqliteUploadTable;
  readonly gc: SqliteGcStore;
  readonly usage: SqliteUsageQueries;
  readonly accounts: SqliteAccountTable;
  readonly audit: SqliteAuditLog;
  readonly scans: SqliteScanTable;
  readonly events: SqliteEventOutbox;

  /**
   * Opens (creating and migrating if needed) a database file, or ':memory:'; see `Db.open` for
   * `exclusive`. `now` is the clock rows are stamped with (created_at of blobs, tag times): Date.now
   * unless a test injects one.
   */
  static open(file: string, opts: { exclusive?: boolean; now?: () => number } = {}): SqliteMetadataStore {
    const db = Db.open(file, opts);
    try {
      return new SqliteMetadataStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(private readonly db: Db) {
    this.events = new SqliteEventOutbox(db);
    this.blobs = new SqliteBlobTable(db, this.events);
    this.manifests = new SqliteManifestTable(db, this.blobs, this.events);
    this.uploads = new SqliteUploadTable(db);
    this.gc = new SqliteGcStore(db);
    this.usage = new SqliteUsageQueries(db);
    this.accounts = new SqliteAccountTable(db);
    this.audit = new SqliteAuditLog(db);
    this.scans = new SqliteScanTable(db);
    fillTagKeys(db);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
