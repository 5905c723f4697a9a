import { readFileSync, statSync } from 'node:fs';
import { bcryptCost } from './passwords.js';

/**
 * An htpasswd file with bcrypt entries only (as Distribution accepts), re-read when it changes
 * (checked at most once a second, on every lookup: a removed user loses password, token and refresh
 * use alike). Other hash formats are refused at load with their line number. The comparison itself
 * is done by the Authenticator, off the event loop.
 */
export class Htpasswd {
  private users = new Map<string, string>();
  private mtimeMs = -1;
  private checkedAt = 0;
  /** The highest bcrypt cost in the file (0 when empty): unknown names are checked at this cost. */
  maxCost = 0;
  readonly warnings: string[] = [];

  /** `now`: the clock the once-a-second check goes by (Date.now unless a test injects one). */
  constructor(
    readonly path: string,
    private readonly opts: { now?: () => number } = {},
  ) {
    this.reload();
  }

  private reload(): void {
    const st = statSync(this.path);
    if (st.mtimeMs === this.mtimeMs) return;
    const users = new Map<string, string>();
    this.warnings.length = 0;
    let maxCost = 0;
    readFileSync(this.path, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const l = line.trim();
        if (!l || l.startsWith('#')) return;
        const colon = l.indexOf(':');
        const user = l.slice(0, colon);
        const hash = l.slice(colon + 1);
        const cost = bcryptCost(hash);
        if (colon <= 0 || cost === null) {
          this.warnings.push(
            `${this.path}:${i + 1}: not a bcrypt entry (create it with "htpasswd -Bbn USER PASSWORD")`,
          );
          return;
        }
        maxCost = Math.max(maxCost, cost);
        users.set(user, hash);
      });
    this.users = users;
    this.maxCost = maxCost;
    this.mtimeMs = st.mtimeMs;
  }

  private fresh(): void {
    const now = (this.opts.now ?? Date.now)();
    if (now - this.checkedAt <= 1000) return;
    this.checkedAt = now;
    try {
      this.reload();
    } catch {
      // Keep the last good set while the file is being replaced.
    }
  }

  /** The bcrypt hash of a user's entry, or undefined. */
  hashOf(user: string): string | undefined {
    this.fresh();
    return this.users.get(user);
  }

  has(user: string): boolean {
    return this.hashOf(user) !== undefined;
  }
}
