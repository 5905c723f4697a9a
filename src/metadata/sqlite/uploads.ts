// SQLite upload sessions (table `uploads`).
import type { UploadRecord, UploadTable } from '../types.js';
import type { Db, Stmt } from './db.js';

const UPLOAD_COLUMNS = `id, repo, "offset", created_at AS "createdAt", updated_at AS "updatedAt", owner`;

export class SqliteUploadTable implements UploadTable {
  private readonly insertUpload: Stmt<[string, string, number, number, number, string | null]>;
  private readonly countOf: Stmt<[string], number>;
  private readonly selectUpload: Stmt<[string], UploadRecord>;
  private readonly updateRow: Stmt<[number, number, string]>;
  private readonly deleteRow: Stmt<[string]>;
  private readonly selectStale: Stmt<[number], UploadRecord>;

  constructor(db: Db) {
    this.insertUpload = db.prepare(
      'INSERT INTO uploads (id, repo, "offset", created_at, updated_at, owner) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.countOf = db.prepare<[string], number>('SELECT COUNT(*) FROM uploads WHERE owner = ?').pluck();
    this.selectUpload = db.prepare(`SELECT ${UPLOAD_COLUMNS} FROM uploads WHERE id = ?`);
    this.updateRow = db.prepare('UPDATE uploads SET "offset" = ?, updated_at = ? WHERE id = ?');
    this.deleteRow = db.prepare('DELETE FROM uploads WHERE id = ?');
    this.selectStale = db.prepare(`SELECT ${UPLOAD_COLUMNS} FROM uploads WHERE updated_at < ? ORDER BY updated_at, id`);
  }

  async create(rec: UploadRecord): Promise<void> {
    try {
      this.insertUpload.run(rec.id, rec.repo, rec.offset, rec.createdAt, rec.updatedAt, rec.owner ?? null);
    } catch (e) {
      // The same words as the memory store: a reused id is a caller bug, not an overwrite.
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw new Error(`upload ${rec.id} already exists`, { cause: e });
      throw e;
    }
  }

  async get(id: string): Promise<UploadRecord | null> {
    return this.selectUpload.get(id) ?? null;
  }

  async update(id: string, offset: number, updatedAt: number): Promise<boolean> {
    return this.updateRow.run(offset, updatedAt, id).changes > 0;
  }

  async delete(id: string): Promise<boolean> {
    return this.deleteRow.run(id).changes > 0;
  }

  async countByOwner(owner: string): Promise<number> {
    return this.countOf.get(owner) ?? 0;
  }

  async listStale(before: number): Promise<UploadRecord[]> {
    return this.selectStale.all(before);
  }
}
