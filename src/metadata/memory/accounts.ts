// In-memory users and robots.
import { compareBytewise } from '../page.js';
import type { Account, AccountTable } from '../types.js';

export class MemoryAccountTable implements AccountTable {
  private readonly accounts = new Map<string, Account>();

  async put(a: Account): Promise<void> {
    const old = this.accounts.get(a.name);
    this.accounts.set(a.name, structuredClone({ ...a, createdAt: old?.createdAt ?? a.createdAt }));
  }

  async get(name: string): Promise<Account | null> {
    const a = this.accounts.get(name);
    return a ? structuredClone(a) : null;
  }

  async delete(name: string): Promise<boolean> {
    return this.accounts.delete(name);
  }

  async list(): Promise<Account[]> {
    return [...this.accounts.values()].sort((x, y) => compareBytewise(x.name, y.name)).map((a) => structuredClone(a));
  }
}
