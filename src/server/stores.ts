/**
 * The stores by name: each driver is loaded only when chosen, so a server on the embedded default
 * never loads another driver (and later ones, S3 and PostgreSQL, cost nothing until configured).
 */
import { join } from 'node:path';
import type { ServeConfig } from '../config/schema.js';
import type { MetadataStore } from '../metadata/types.js';
import { withChecks } from '../storage/checks.js';
import type { BlobStore } from '../storage/types.js';

export type BlobDriver = 'fs' | 'memory' | 's3';
export type MetadataDriver = 'sqlite' | 'memory' | 'postgres';

/** How to reach PostgreSQL (metadata.postgres); unset fields fall back to the PG* environment variables. */
export interface PostgresSettings {
  url?: string | undefined;
  schema?: string | undefined;
  poolSize?: number;
  /** ms; 0: none. */
  statementTimeout?: number;
}

/** A blob store and what the server does with it at start (crash leftovers), if anything. */
export interface OpenedBlobStore {
  store: BlobStore;
  /** Removes staging files older than `olderThanMs` that a crash left behind. */
  sweep?(olderThanMs: number): Promise<number>;
}

/** The data directory's metadata is held by another process (a running `kura serve`). */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string) {
    super(`${dataDir} is in use by another kura process; stop it or choose another --data directory`);
  }
}

/** The storage section of the configuration (driver options such as storage.s3). */
export type StorageConfig = Partial<Pick<ServeConfig['storage'], 's3' | 'redirect'>>;

const blobDrivers: Record<BlobDriver, (dataDir: string, config: StorageConfig) => Promise<OpenedBlobStore>> = {
  async fs(dataDir) {
    const { FsBlobStore } = await import('../storage/fs.js');
    const store = new FsBlobStore(dataDir);
    return { store: withChecks(store), sweep: (olderThanMs) => store.sweepTemp(olderThanMs) };
  },
  async memory() {
    const { MemoryBlobStore } = await import('../storage/memory.js');
    return { store: withChecks(new MemoryBlobStore()) };
  },
  async s3(_dataDir, config) {
    const { S3BlobStore } = await import('../storage/s3/store.js');
    const o = config.s3;
    if (!o?.bucket) throw new Error('storage.driver s3 needs a bucket: set storage.s3.bucket (KURA_STORAGE_S3_BUCKET)');
    const store = new S3BlobStore({
      bucket: o.bucket,
      prefix: o.prefix,
      region: o.region,
      endpoint: o.endpoint || undefined,
      forcePathStyle: o.forcePathStyle,
      accessKeyId: o.accessKeyId || undefined,
      secretAccessKey: o.secretAccessKey || undefined,
      partSize: o.partSize,
      redirect: config.redirect === true,
    });
    // Another replica may be writing a part right now: only multipart uploads idle for an hour are a crash's.
    const where = `bucket ${o.bucket} at ${o.endpoint || 'AWS S3'}`;
    const sweep = (olderThanMs: number) =>
      store.sweepMultipart(Math.max(olderThanMs, 3_600_000)).catch((e: Error) => {
        // The first request at start: a wrong endpoint, bucket or key ends here, named with its fix.
        const why = [e.name === 'Error' ? '' : e.name, e.message === 'UnknownError' ? '' : e.message]
          .filter(Boolean)
          .join(': ');
        throw new Error(`S3 ${where} refused the first request (${why}); check storage.s3.* and the credentials`);
      });
    return { store: withChecks(store), sweep };
  },
};

/** How the metadata store is opened: shared by replicas on one host (SQLite), and how to reach PostgreSQL. */
export interface MetadataSettings {
  shared?: boolean;
  postgres?: PostgresSettings;
  /** The clock SQLite rows are stamped with (Date.now unless a test injects one). */
  now?: () => number;
}

type MetadataOpener = (dataDir: string, settings: MetadataSettings) => Promise<MetadataStore>;

const metadataDrivers: Record<MetadataDriver, MetadataOpener> = {
  async sqlite(dataDir, { shared = false, now }) {
    const { SqliteMetadataStore } = await import('../metadata/sqlite/index.js');
    try {
      // Exclusive: this process is the only writer, which is what lets the registry cache lookups.
      // (Unless replicas share the file: metadata.shared, and the registry then caches no lookups.)
      return SqliteMetadataStore.open(join(dataDir, 'kura.db'), { exclusive: !shared, now });
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir);
      throw e;
    }
  },
  async memory() {
    const { MemoryMetadataStore } = await import('../metadata/memory/index.js');
    return new MemoryMetadataStore();
  },
  async postgres(_dataDir, { postgres: pg = {} }) {
    const { PgMetadataStore } = await import('../metadata/postgres/index.js');
    const opts = { url: pg.url, schema: pg.schema, poolSize: pg.poolSize, statementTimeoutMs: pg.statementTimeout };
    try {
      return await PgMetadataStore.open(opts);
    } catch (e) {
      // pg's errors name the host and the problem, never the password; say which setting to fix.
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`cannot open the PostgreSQL metadata database: ${why} (check metadata.postgres.url or PG*)`, {
        cause: e,
      });
    }
  },
};

export function openBlobStore(
  driver: BlobDriver,
  dataDir: string,
  config: StorageConfig = {},
): Promise<OpenedBlobStore> {
  return blobDrivers[driver](dataDir, config);
}

export function openMetadataStore(
  driver: MetadataDriver,
  dataDir: string,
  settings: MetadataSettings = {},
): Promise<MetadataStore> {
  return metadataDrivers[driver](dataDir, settings);
}
