// In-memory upload sessions.
import { compareBytewise } from '../page.js';
import type { UploadRecord, UploadTable } from '../types.js';

export class MemoryUploadTable implements UploadTable {
  private readonly uploads = new Map<string, UploadRecord>();

  async create(rec: UploadRecord): Promise<void> {
    // Matches the SQL primary key: a reused id is a caller bug, not an overwrite.
    if (this.uploads.has(rec.id)) throw new Error(`upload ${rec.id} already exists`);
    this.uploads.set(rec.id, { ...rec, owner: rec.owner ?? null });
  }

  async get(id: string): Promise<UploadRecord | null> {
    const u = this.uploads.get(id);
    return u === undefined ? null : { ...u };
  }

  async update(id: string, offset: number, updatedAt: number): Promise<boolean> {
    const u = this.uploads.get(id);
    if (u === undefined) return false;
    u.offset = offset;
    u.updatedAt = updatedAt;
    return true;
  }

  async delete(id: string): Promise<boolean> {
    return this.uploads.delete(id);
  }

  async countByOwner(owner: string): Promise<number> {
    let n = 0;
    for (const u of this.uploads.values()) if (u.owner === owner) n++;
    return n;
  }

  async listStale(before: number): Promise<UploadRecord[]> {
    const out: UploadRecord[] = [];
    for (const u of this.uploads.values()) if (u.updatedAt < before) out.push({ ...u });
    return out.sort((a, b) => a.updatedAt - b.updatedAt || compareBytewise(a.id, b.id));
  }
}
