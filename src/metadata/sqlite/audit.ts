// SQLite audit trail (table `audit_log`).
import type { AuditEvent, AuditLog, AuditQuery } from '../types.js';
import type { Db, Stmt } from './db.js';

type AuditParams = { since: number; actor: string | null; repository: string | null; limit: number };

export class SqliteAuditLog implements AuditLog {
  private readonly selectEvents: Stmt<[AuditParams], AuditEvent>;
  private readonly deleteBefore: Stmt<[number]>;
  private readonly appendTx: (events: AuditEvent[]) => void;

  constructor(db: Db) {
    const insert = db.prepare<[AuditEvent]>(
      `INSERT INTO audit_log (at, actor, address, action, repository, reference, status)
       VALUES (@at, @actor, @address, @action, @repository, @reference, @status)`,
    );
    this.appendTx = db.write((events: AuditEvent[]) => {
      for (const e of events) insert.run(e);
    });
    this.selectEvents = db.prepare(
      `SELECT at, actor, address, action, repository, reference, status FROM audit_log
       WHERE at >= @since AND (@actor IS NULL OR actor = @actor) AND (@repository IS NULL OR repository = @repository)
       ORDER BY at DESC, id DESC LIMIT @limit`,
    );
    this.deleteBefore = db.prepare('DELETE FROM audit_log WHERE at < ?');
  }

  async append(events: AuditEvent[]): Promise<void> {
    if (events.length > 0) this.appendTx(events);
  }

  async purge(before: number): Promise<number> {
    return this.deleteBefore.run(before).changes;
  }

  async list(q: AuditQuery): Promise<AuditEvent[]> {
    const params = { since: q.since ?? 0, actor: q.actor ?? null, repository: q.repository ?? null, limit: q.limit };
    return this.selectEvents.all(params);
  }
}
