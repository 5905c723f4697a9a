// PostgreSQL garbage collection and fsck over blob rows and their states (src/registry/README.md has the protocol).
import type { Digest } from '../../oci/digest.js';
import type { BlobState, GcStore } from '../types.js';
import type { Db } from './db.js';
import type { PgBlobGoneFeed } from './notify.js';

/** Digests per `recorded` query: one array parameter, kept to a modest size. */
const RECORDED_SLICE = 1000;

/** Live, unreferenced, created before the cutoff (parameter `cutoff`), not leased at `now`. */
const candidate = (now: string, cutoff: string) => `b.state = 'live' AND b.created_at < ${cutoff}
  AND COALESCE(b.leased_until, 0) < ${now}
  AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.ref_digest = b.digest)
  AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)`;

export class PgGcStore implements GcStore {
  constructor(
    private readonly db: Db,
    /** Told of the links this store's mark and drop removed, once committed (the trigger tells other processes). */
    private readonly gone?: Pick<PgBlobGoneFeed, 'local'>,
  ) {}

  async candidates(now: number, cutoff: number): Promise<Digest[]> {
    const rows = await this.db.rows<{ digest: Digest }>(
      `SELECT b.digest FROM blobs b WHERE ${candidate('$1', '$2')} ORDER BY b.created_at, b.digest COLLATE "C"`,
      [now, cutoff],
    );
    return rows.map((r) => r.digest);
  }

  /**
   * One transaction: lock the blob rows FOR UPDATE (sorted, so concurrent writers lock in one order),
   * then re-check them in a new statement, which sees every manifest PUT or upload that committed
   * before the lock was granted; a PUT that comes later waits for this transaction (it locks the same
   * rows FOR SHARE) and then finds the blob unlinked.
   */
  async mark(digests: Digest[], now: number, cutoff: number): Promise<Digest[]> {
    if (digests.length === 0) return [];
    const unique = [...new Set(digests)];
    const marked = await this.db.tx(async (q) => {
      await q.run('SELECT 1 FROM blobs WHERE digest = ANY($1) ORDER BY digest FOR UPDATE', [unique]);
      const rows = await q.rows<{ digest: Digest }>(
        `SELECT b.digest FROM blobs b WHERE b.digest = ANY($1) AND ${candidate('$2', '$3')}`,
        [unique, now, cutoff],
      );
      const hit = new Set(rows.map((r) => r.digest));
      const marked = unique.filter((d) => hit.has(d));
      if (marked.length > 0) {
        await q.run(`UPDATE blobs SET state = 'deleting' WHERE digest = ANY($1)`, [marked]);
        await q.run('DELETE FROM repository_blobs WHERE digest = ANY($1)', [marked]);
      }
      return marked;
    });
    this.gone?.local(marked);
    return marked;
  }

  async listDeleting(): Promise<Digest[]> {
    const rows = await this.db.rows<{ digest: Digest }>(
      `SELECT digest FROM blobs WHERE state = 'deleting' ORDER BY digest COLLATE "C"`,
    );
    return rows.map((r) => r.digest);
  }

  async state(digest: Digest): Promise<BlobState | null> {
    return (
      (await this.db.one<{ state: BlobState }>('SELECT state FROM blobs WHERE digest = $1', [digest]))?.state ?? null
    );
  }

  async forget(digest: Digest): Promise<boolean> {
    return (await this.db.run(`DELETE FROM blobs WHERE digest = $1 AND state = 'deleting'`, [digest])) > 0;
  }

  async recorded(digests: Digest[]): Promise<Set<Digest>> {
    const found = new Set<Digest>();
    for (let i = 0; i < digests.length; i += RECORDED_SLICE) {
      const slice = digests.slice(i, i + RECORDED_SLICE);
      const rows = await this.db.rows<{ digest: Digest }>('SELECT digest FROM blobs WHERE digest = ANY($1)', [slice]);
      for (const r of rows) found.add(r.digest);
    }
    return found;
  }

  async listBlobs(): Promise<{ digest: Digest; size: number; state: BlobState }[]> {
    return this.db.rows('SELECT digest, size, state FROM blobs ORDER BY digest COLLATE "C"');
  }

  /**
   * One collector across replicas: a session advisory lock (per schema) on a connection held for the
   * run. pg_try_advisory_lock does not wait, so the others skip; PostgreSQL drops the lock when the
   * holder's connection ends (the process died), and the next replica to try takes over.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T | null> {
    const client = await this.db.pool.connect();
    let broken = false;
    try {
      const key = `'kura gc ' || current_schema()`;
      const got = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext(${key})) AS ok`);
      if (!got.rows[0]!.ok) return null;
      try {
        return await fn();
      } finally {
        await client.query(`SELECT pg_advisory_unlock(hashtext(${key}))`).catch(() => {
          broken = true; // a connection that may still hold the lock must not go back to the pool
        });
      }
    } finally {
      client.release(broken);
    }
  }

  /** Rows locked in digest order first, as `mark` does, so a touch and a mark never deadlock. */
  async touch(digests: Digest[], leaseUntil: number): Promise<void> {
    if (digests.length === 0) return;
    await this.db.tx(async (q) => {
      await q.run('SELECT 1 FROM blobs WHERE digest = ANY($1) ORDER BY digest FOR UPDATE', [digests]);
      await q.run(
        `UPDATE blobs SET leased_until = GREATEST(COALESCE(leased_until, 0), $2)
         WHERE digest = ANY($1) AND state = 'live'`,
        [digests, leaseUntil],
      );
    });
  }

  async drop(digest: Digest): Promise<boolean> {
    const dropped = await this.db.tx(async (q) => {
      await q.run('SELECT 1 FROM blobs WHERE digest = $1 FOR UPDATE', [digest]);
      const links = await q.run('DELETE FROM repository_blobs WHERE digest = $1', [digest]);
      return { links, blob: (await q.run('DELETE FROM blobs WHERE digest = $1', [digest])) > 0 };
    });
    if (dropped.links > 0) this.gone?.local([digest]);
    return dropped.blob;
  }
}
