// PostgreSQL blobs and their repository links (tables `blobs`, `repository_blobs`).
import type { Digest } from '../../oci/digest.js';
import type { BlobTable, OutboxEntry } from '../types.js';
import type { PgEventOutbox } from './events.js';
import type { Db, Sql } from './db.js';
import type { PgBlobGoneFeed } from './notify.js';

export class PgBlobTable implements BlobTable {
  constructor(
    private readonly db: Db,
    private readonly events: PgEventOutbox,
    private readonly gone?: Pick<PgBlobGoneFeed, 'local'>,
  ) {}

  /**
   * Inserts a blob row if absent, or revives it and extends its lease (a lease only ever grows), then
   * links it to a repository. Runs inside a caller's write transaction (`add`, the manifest table's `put`).
   * The upsert locks the blob row, so it waits for a GC `mark` holding it, and `mark` waits for it.
   */
  async record(q: Sql, repoId: number, digest: Digest, size: number, leaseUntil: number, now: number): Promise<void> {
    await q.run(
      `INSERT INTO blobs (digest, size, created_at, leased_until) VALUES ($1, $2, $3, $4)
       ON CONFLICT (digest) DO UPDATE SET state = 'live',
         leased_until = GREATEST(COALESCE(blobs.leased_until, 0), excluded.leased_until)`,
      [digest, size, now, leaseUntil],
    );
    await q.run(
      `INSERT INTO repository_blobs (repo_id, digest, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (repo_id, digest) DO NOTHING`,
      [repoId, digest, now],
    );
  }

  async add(repo: string, digest: Digest, size: number, leaseUntil = 0, events?: OutboxEntry[]): Promise<void> {
    await this.db.tx(async (q) => {
      const now = this.db.now();
      await this.record(q, await this.db.ensureRepo(q, repo, now), digest, size, leaseUntil, now);
      await this.events.write(q, events, now);
    });
  }

  async get(repo: string, digest: Digest): Promise<number | null> {
    const row = await this.db.one<{ size: number }>(
      `SELECT b.size FROM repositories r
       JOIN repository_blobs rb ON rb.repo_id = r.id
       JOIN blobs b ON b.digest = rb.digest
       WHERE r.name = $1 AND rb.digest = $2`,
      [repo, digest],
    );
    return row?.size ?? null;
  }

  async getGlobal(digest: Digest): Promise<number | null> {
    return (await this.db.one<{ size: number }>('SELECT size FROM blobs WHERE digest = $1', [digest]))?.size ?? null;
  }

  async repositories(digest: Digest, limit: number): Promise<string[]> {
    const rows = await this.db.rows<{ name: string }>(
      `SELECT r.name FROM repository_blobs rb
       JOIN repositories r ON r.id = rb.repo_id
       JOIN blobs b ON b.digest = rb.digest
       WHERE rb.digest = $1 AND b.state = 'live' ORDER BY r.name LIMIT $2`,
      [digest, limit],
    );
    return rows.map((r) => r.name);
  }

  async unlink(repo: string, digest: Digest, events?: OutboxEntry[]): Promise<boolean> {
    const done = await this.db.tx(async (q) => {
      const n = await q.run(
        'DELETE FROM repository_blobs WHERE repo_id = (SELECT id FROM repositories WHERE name = $1) AND digest = $2',
        [repo, digest],
      );
      if (n > 0) await this.events.write(q, events, this.db.now());
      return n > 0;
    });
    if (done) this.gone?.local([digest]);
    return done;
  }
}
