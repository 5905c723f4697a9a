// PostgreSQL audit trail (table `audit_log`).
import type { AuditEvent, AuditLog, AuditQuery } from '../types.js';
import type { Db } from './db.js';

export class PgAuditLog implements AuditLog {
  constructor(private readonly db: Db) {}

  /** One statement for the batch, so it is one transaction and keeps the events' order in their ids. */
  async append(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const col = <K extends keyof AuditEvent>(k: K) => events.map((e) => e[k]);
    await this.db.run(
      `INSERT INTO audit_log (at, actor, address, action, repository, reference, status)
       SELECT at, actor, address, action, repository, reference, status
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])
       WITH ORDINALITY AS e(at, actor, address, action, repository, reference, status, n) ORDER BY n`,
      [col('at'), col('actor'), col('address'), col('action'), col('repository'), col('reference'), col('status')],
    );
  }

  async purge(before: number): Promise<number> {
    return this.db.run('DELETE FROM audit_log WHERE at < $1', [before]);
  }

  async list(q: AuditQuery): Promise<AuditEvent[]> {
    return this.db.rows<AuditEvent>(
      `SELECT at, actor, address, action, repository, reference, status FROM audit_log
       WHERE at >= $1 AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR repository = $3)
       ORDER BY at DESC, id DESC LIMIT $4`,
      [q.since ?? 0, q.actor ?? null, q.repository ?? null, q.limit],
    );
  }
}
