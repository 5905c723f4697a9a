// PostgreSQL upload sessions (table `uploads`).
import type { UploadRecord, UploadTable } from '../types.js';
import type { Db } from './db.js';

const UPLOAD_COLUMNS = `id, repo, "offset", created_at AS "createdAt", updated_at AS "updatedAt", owner`;
/** SQLSTATE unique_violation. */
const UNIQUE_VIOLATION = '23505';

export class PgUploadTable implements UploadTable {
  constructor(private readonly db: Db) {}

  async create(rec: UploadRecord): Promise<void> {
    try {
      await this.db.run(
        'INSERT INTO uploads (id, repo, "offset", created_at, updated_at, owner) VALUES ($1, $2, $3, $4, $5, $6)',
        [rec.id, rec.repo, rec.offset, rec.createdAt, rec.updatedAt, rec.owner ?? null],
      );
    } catch (e) {
      // The same words as the other stores: a reused id is a caller bug, not an overwrite.
      if ((e as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new Error(`upload ${rec.id} already exists`, { cause: e });
      }
      throw e;
    }
  }

  async get(id: string): Promise<UploadRecord | null> {
    return (await this.db.one<UploadRecord>(`SELECT ${UPLOAD_COLUMNS} FROM uploads WHERE id = $1`, [id])) ?? null;
  }

  async update(id: string, offset: number, updatedAt: number): Promise<boolean> {
    return (
      (await this.db.run('UPDATE uploads SET "offset" = $1, updated_at = $2 WHERE id = $3', [offset, updatedAt, id])) >
      0
    );
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM uploads WHERE id = $1', [id])) > 0;
  }

  async countByOwner(owner: string): Promise<number> {
    return (await this.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM uploads WHERE owner = $1', [owner]))!.n;
  }

  async listStale(before: number): Promise<UploadRecord[]> {
    return this.db.rows<UploadRecord>(
      `SELECT ${UPLOAD_COLUMNS} FROM uploads WHERE updated_at < $1 ORDER BY updated_at, id COLLATE "C"`,
      [before],
    );
  }
}
