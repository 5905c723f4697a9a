// In-memory audit trail.
import type { AuditEvent, AuditLog, AuditQuery } from '../types.js';

export class MemoryAuditLog implements AuditLog {
  private readonly events: AuditEvent[] = [];

  async append(events: AuditEvent[]): Promise<void> {
    this.events.push(...events.map((e) => ({ ...e })));
  }

  async purge(before: number): Promise<number> {
    const keep = this.events.filter((e) => e.at >= before);
    const n = this.events.length - keep.length;
    this.events.splice(0, this.events.length, ...keep);
    return n;
  }

  async list(q: AuditQuery): Promise<AuditEvent[]> {
    const match = (e: AuditEvent): boolean =>
      e.at >= (q.since ?? 0) &&
      (q.actor === undefined || e.actor === q.actor) &&
      (q.repository === undefined || e.repository === q.repository);
    return this.events
      .map((e, i) => ({ e, i }))
      .filter(({ e }) => match(e))
      .sort((a, b) => b.e.at - a.e.at || b.i - a.i)
      .slice(0, q.limit)
      .map(({ e }) => ({ ...e }));
  }
}
