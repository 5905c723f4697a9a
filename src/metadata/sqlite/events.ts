// SQLite events outbox (table `event_outbox`): claims are write transactions, so one process leases each event.
import type { EventOutbox, OutboxEntry, OutboxEvent } from '../types.js';
import type { Db, Stmt } from './db.js';

type Claim = { endpoints: string; now: number; limit: number };

export class SqliteEventOutbox implements EventOutbox {
  private readonly insert: Stmt<[string, string, string, number]>;
  private readonly selectDue: Stmt<[Claim], OutboxEvent>;
  private readonly lease: Stmt<[string, number, number]>;
  private readonly deleteOwned: Stmt<[string, string]>;
  private readonly release: Stmt<[number, string, string]>;
  private readonly counts: Stmt<[], { endpoint: string; n: number }>;
  private readonly appendTx: (entries: OutboxEntry[]) => void;
  private readonly claimTx: (owner: string, c: Claim, leaseUntil: number) => OutboxEvent[];

  constructor(db: Db) {
    this.insert = db.prepare(
      'INSERT INTO event_outbox (endpoint, repo, payload, created_at, next_at) VALUES (?, ?, ?, ?, 0)',
    );
    // Oldest first; an event waits while an earlier one of its endpoint and repository is leased or backing off.
    this.selectDue = db.prepare(
      `SELECT id, endpoint, repo, payload, attempts, created_at AS createdAt FROM event_outbox o
       WHERE endpoint IN (SELECT value FROM json_each(@endpoints))
         AND next_at <= @now AND (leased_until IS NULL OR leased_until <= @now)
         AND NOT EXISTS (SELECT 1 FROM event_outbox p
           WHERE p.endpoint = o.endpoint AND p.repo = o.repo AND p.id < o.id
             AND (p.next_at > @now OR COALESCE(p.leased_until, 0) > @now))
       ORDER BY id LIMIT @limit`,
    );
    this.lease = db.prepare('UPDATE event_outbox SET lease_owner = ?, leased_until = ? WHERE id = ?');
    this.deleteOwned = db.prepare(
      'DELETE FROM event_outbox WHERE id IN (SELECT value FROM json_each(?)) AND lease_owner = ?',
    );
    this.release = db.prepare(
      `UPDATE event_outbox SET attempts = attempts + 1, next_at = ?, lease_owner = NULL, leased_until = NULL
       WHERE id IN (SELECT value FROM json_each(?)) AND lease_owner = ?`,
    );
    this.counts = db.prepare('SELECT endpoint, COUNT(*) AS n FROM event_outbox GROUP BY endpoint');
    this.appendTx = db.write((entries: OutboxEntry[]) => this.write(entries, db.now()));
    this.claimTx = db.write((owner: string, c: Claim, leaseUntil: number) => {
      const rows = this.selectDue.all(c);
      for (const r of rows) this.lease.run(owner, leaseUntil, r.id);
      return rows;
    });
  }

  /** Inserts outbox rows; must run inside the caller's write transaction (the change they describe). */
  write(entries: OutboxEntry[] | undefined, now: number): void {
    for (const e of entries ?? []) this.insert.run(e.endpoint, e.repo, e.payload, now);
  }

  async append(entries: OutboxEntry[]): Promise<void> {
    if (entries.length > 0) this.appendTx(entries);
  }

  async claim(owner: string, endpoints: string[], now: number, leaseUntil: number, limit: number) {
    if (endpoints.length === 0 || limit <= 0) return [];
    return this.claimTx(owner, { endpoints: JSON.stringify(endpoints), now, limit }, leaseUntil);
  }

  async ack(owner: string, ids: number[]): Promise<number> {
    return ids.length === 0 ? 0 : this.deleteOwned.run(JSON.stringify(ids), owner).changes;
  }

  async retry(owner: string, ids: number[], nextAt: number): Promise<void> {
    if (ids.length > 0) this.release.run(nextAt, JSON.stringify(ids), owner);
  }

  async backlog(): Promise<Record<string, number>> {
    return Object.fromEntries(this.counts.all().map((r) => [r.endpoint, r.n]));
  }
}
