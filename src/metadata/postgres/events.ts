// PostgreSQL events outbox (table `event_outbox`): replicas claim under one advisory lock, then hold leases.
import type { EventOutbox, OutboxEntry, OutboxEvent } from '../types.js';
import type { Db, Sql } from './db.js';

/**
 * Claims take a transaction advisory lock first, so replicas claim one after another: a claim sees the leases
 * every earlier one committed and never takes an event of a repository whose earlier event another replica
 * holds (row locks with SKIP LOCKED would skip the held row but not stop its successors). A claim is one short
 * transaction; delivery happens outside it, under the lease.
 */
export class PgEventOutbox implements EventOutbox {
  constructor(private readonly db: Db) {}

  /** Inserts outbox rows in order; runs inside the caller's write transaction (the change they describe). */
  async write(q: Sql, entries: OutboxEntry[] | undefined, now: number): Promise<void> {
    if (!entries || entries.length === 0) return;
    await q.run(
      `INSERT INTO event_outbox (endpoint, repo, payload, created_at, next_at)
       SELECT endpoint, repo, payload, $4, 0 FROM unnest($1::text[], $2::text[], $3::text[])
       WITH ORDINALITY AS e(endpoint, repo, payload, n) ORDER BY n`,
      [entries.map((e) => e.endpoint), entries.map((e) => e.repo), entries.map((e) => e.payload), now],
    );
  }

  async append(entries: OutboxEntry[]): Promise<void> {
    await this.write(this.db, entries, this.db.now());
  }

  async claim(owner: string, endpoints: string[], now: number, leaseUntil: number, limit: number) {
    if (endpoints.length === 0 || limit <= 0) return [];
    return this.db
      .tx(async (q) => {
        await q.run(`SELECT pg_advisory_xact_lock(hashtext('kura events claim ' || current_schema()))`);
        return q.rows<OutboxEvent>(
          `UPDATE event_outbox SET lease_owner = $1, leased_until = $2 WHERE id IN (
           SELECT id FROM event_outbox o
           WHERE endpoint = ANY($3) AND next_at <= $4 AND (leased_until IS NULL OR leased_until <= $4)
             AND NOT EXISTS (SELECT 1 FROM event_outbox p
               WHERE p.endpoint = o.endpoint AND p.repo = o.repo AND p.id < o.id
                 AND (p.next_at > $4 OR COALESCE(p.leased_until, 0) > $4))
           ORDER BY id LIMIT $5)
         RETURNING id, endpoint, repo, payload, attempts, created_at AS "createdAt"`,
          [owner, leaseUntil, endpoints, now, limit],
        );
      })
      .then((rows) => rows.sort((a, b) => a.id - b.id));
  }

  async ack(owner: string, ids: number[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.db.run('DELETE FROM event_outbox WHERE id = ANY($1) AND lease_owner = $2', [ids, owner]);
  }

  async retry(owner: string, ids: number[], nextAt: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.run(
      `UPDATE event_outbox SET attempts = attempts + 1, next_at = $1, lease_owner = NULL, leased_until = NULL
       WHERE id = ANY($2) AND lease_owner = $3`,
      [nextAt, ids, owner],
    );
  }

  async backlog(): Promise<Record<string, number>> {
    const rows = await this.db.rows<{ endpoint: string; n: number }>(
      'SELECT endpoint, COUNT(*) AS n FROM event_outbox GROUP BY endpoint',
    );
    return Object.fromEntries(rows.map((r) => [r.endpoint, Number(r.n)]));
  }
}
