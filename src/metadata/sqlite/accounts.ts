// SQLite users and robots (table `accounts`).
import type { Account, AccountTable } from '../types.js';
import type { Db, Stmt } from './db.js';

interface AccountRow {
  name: string;
  kind: 'user' | 'robot';
  passwordHash: string;
  grants: string | null;
  createdAt: number;
  expiresAt: number | null;
}

interface AccountParams {
  name: string;
  kind: string;
  hash: string;
  grants: string | null;
  createdAt: number;
  expiresAt: number | null;
}

function toAccount(r: AccountRow): Account {
  return { ...r, grants: r.grants ? (JSON.parse(r.grants) as Account['grants']) : null };
}

export class SqliteAccountTable implements AccountTable {
  private readonly upsert: Stmt<[AccountParams]>;
  private readonly selectOne: Stmt<[string], AccountRow>;
  private readonly deleteRow: Stmt<[string]>;
  private readonly selectAll: Stmt<[], AccountRow>;

  constructor(db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO accounts (name, kind, password_hash, grants, created_at, expires_at)
       VALUES (@name, @kind, @hash, @grants, @createdAt, @expiresAt)
       ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, password_hash = excluded.password_hash,
         grants = excluded.grants, expires_at = excluded.expires_at`,
    );
    const cols = 'name, kind, password_hash AS passwordHash, grants, created_at AS createdAt, expires_at AS expiresAt';
    this.selectOne = db.prepare(`SELECT ${cols} FROM accounts WHERE name = ?`);
    this.deleteRow = db.prepare('DELETE FROM accounts WHERE name = ?');
    this.selectAll = db.prepare(`SELECT ${cols} FROM accounts ORDER BY name`);
  }

  async put(a: Account): Promise<void> {
    const { name, kind, passwordHash: hash, createdAt, expiresAt } = a;
    this.upsert.run({ name, kind, hash, grants: a.grants ? JSON.stringify(a.grants) : null, createdAt, expiresAt });
  }

  async get(name: string): Promise<Account | null> {
    const row = this.selectOne.get(name);
    return row ? toAccount(row) : null;
  }

  async delete(name: string): Promise<boolean> {
    return this.deleteRow.run(name).changes > 0;
  }

  async list(): Promise<Account[]> {
    return this.selectAll.all().map(toAccount);
  }
}
