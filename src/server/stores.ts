/**
 * The stores by name: each driver is loaded only when chosen, so a server on the embedded default
 * never loads another driver (and later ones, S3 and PostgreSQL, cost nothing until configured).
 */
import { join } from 'node:path';
import type { MetadataStore } from '../metadata/types.js';
import { withChecks } from '../storage/checks.js';
import type { BlobStore } from '../storage/types.js';

export type BlobDriver = 'fs' | 'memory';
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

const blobDrivers: Record<BlobDriver, (dataDir: string) => Promise<OpenedBlobStore>> = {
  async fs(dataDir) {
    const { FsBlobStore } = await import('../storage/fs.js');
    const store = new FsBlobStore(dataDir);
    return { store: withChecks(store), sweep: (olderThanMs) => store.sweepTemp(olderThanMs) };
  },
  async memory() {
    const { MemoryBlobStore } = await import('../storage/memory.js');
    return { store: withChecks(new MemoryBlobStore()) };
  },
};

type MetadataOpener = (dataDir: string, postgres: PostgresSettings) => Promise<MetadataStore>;

const metadataDrivers: Record<MetadataDriver, MetadataOpener> = {
  async sqlite(dataDir) {
    const { SqliteMetadataStore } = await import('../metadata/sqlite/index.js');
    try {
      // Exclusive: this process is the only writer, which is what lets the registry cache lookups.
      return SqliteMetadataStore.open(join(dataDir, 'kura.db'), { exclusive: true });
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir);
      throw e;
    }
  },
  async memory() {
    const { MemoryMetadataStore } = await import('../metadata/memory/index.js');
    return new MemoryMetadataStore();
  },
  async postgres(_dataDir, pg) {
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

export function openBlobStore(driver: BlobDriver, dataDir: string): Promise<OpenedBlobStore> {
  return blobDrivers[driver](dataDir);
}

export function openMetadataStore(
  driver: MetadataDriver,
  dataDir: string,
  postgres: PostgresSettings = {},
): Promise<MetadataStore> {
  return metadataDrivers[driver](dataDir, postgres);
}
