// PostgreSQL users and robots (table `accounts`).
import type { Account, AccountTable } from '../types.js';
import type { Db } from './db.js';

interface AccountRow {
  name: string;
  kind: 'user' | 'robot';
  passwordHash: string;
  grants: string | null;
  createdAt: number;
  expiresAt: number | null;
}

const COLUMNS = `name, kind, password_hash AS "passwordHash", grants, created_at AS "createdAt",
  expires_at AS "expiresAt"`;

function toAccount(r: AccountRow): Account {
  return { ...r, grants: r.grants ? (JSON.parse(r.grants) as Account['grants']) : null };
}

export class PgAccountTable implements AccountTable {
  constructor(private readonly db: Db) {}

  async put(a: Account): Promise<void> {
    await this.db.run(
      `INSERT INTO accounts (name, kind, password_hash, grants, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, password_hash = excluded.password_hash,
         grants = excluded.grants, expires_at = excluded.expires_at`,
      [a.name, a.kind, a.passwordHash, a.grants ? JSON.stringify(a.grants) : null, a.createdAt, a.expiresAt],
    );
  }

  async get(name: string): Promise<Account | null> {
    const row = await this.db.one<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE name = $1`, [name]);
    return row ? toAccount(row) : null;
  }

  async delete(name: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM accounts WHERE name = $1', [name])) > 0;
  }

  async list(): Promise<Account[]> {
    return (await this.db.rows<AccountRow>(`SELECT ${COLUMNS} FROM accounts ORDER BY name COLLATE "C"`)).map(toAccount);
  }
}
