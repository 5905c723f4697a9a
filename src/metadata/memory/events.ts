// The in-memory events outbox: leases and retry times over the shared map.
import type { EventOutbox, OutboxEntry, OutboxEvent } from '../types.js';
import type { MemoryDb } from './db.js';

export class MemoryEventOutbox implements EventOutbox {
  constructor(private readonly db: MemoryDb) {}

  async append(entries: OutboxEntry[]): Promise<void> {
    this.db.appendEvents(entries);
  }

  async claim(owner: string, endpoints: string[], now: number, leaseUntil: number, limit: number) {
    const wanted = new Set(endpoints);
    // Endpoint and repository pairs with an earlier event leased or waiting for a retry: later ones wait too.
    const blocked = new Set<string>();
    const out: OutboxEvent[] = [];
    for (const row of this.db.outbox.values()) {
      if (out.length >= limit) break;
      if (!wanted.has(row.ev.endpoint)) continue;
      const key = `${row.ev.endpoint}\0${row.ev.repo}`;
      if (blocked.has(key)) continue;
      if (row.nextAt > now || row.leasedUntil > now) {
        blocked.add(key);
        continue;
      }
      row.owner = owner;
      row.leasedUntil = leaseUntil;
      out.push({ ...row.ev });
    }
    return out;
  }

  async ack(owner: string, ids: number[]): Promise<number> {
    let n = 0;
    for (const id of ids) {
      if (this.db.outbox.get(id)?.owner === owner && this.db.outbox.delete(id)) n++;
    }
    return n;
  }

  async retry(owner: string, ids: number[], nextAt: number): Promise<void> {
    for (const id of ids) {
      const row = this.db.outbox.get(id);
      if (row?.owner !== owner) continue;
      row.ev.attempts++;
      row.nextAt = nextAt;
      row.owner = null;
      row.leasedUntil = 0;
    }
  }

  async backlog(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const { ev } of this.db.outbox.values()) counts[ev.endpoint] = (counts[ev.endpoint] ?? 0) + 1;
    return counts;
  }
}
