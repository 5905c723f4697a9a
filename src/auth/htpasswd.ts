import { readFileSync, statSync } from 'node:fs';
import bcrypt from 'bcryptjs';

/** A bcrypt hash of a random password: compared against for unknown users, so timing does not tell who exists. */
const DUMMY_HASH = bcrypt.hashSync('kura-no-such-user', 4);

/**
 * An htpasswd file with bcrypt entries only (as Distribution accepts), re-read when it changes
 * (checked at most once a second). Other hash formats are refused at load with their line number.
 */
export class Htpasswd {
  private users = new Map<string, string>();
  private mtimeMs = -1;
  private checkedAt = 0;
  readonly warnings: string[] = [];

  constructor(readonly path: string) {
    this.reload();
  }

  private reload(): void {
    const st = statSync(this.path);
    if (st.mtimeMs === this.mtimeMs) return;
    const users = new Map<string, string>();
    this.warnings.length = 0;
    readFileSync(this.path, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const l = line.trim();
        if (!l || l.startsWith('#')) return;
        const colon = l.indexOf(':');
        const user = l.slice(0, colon);
        const hash = l.slice(colon + 1);
        if (colon <= 0 || !/^\$2[aby]\$\d\d\$/.test(hash)) {
          this.warnings.push(`${this.path}:${i + 1}: not a bcrypt entry (create it with "htpasswd -Bbn USER PASSWORD")`);
          return;
        }
        users.set(user, hash);
      });
    this.users = users;
    this.mtimeMs = st.mtimeMs;
  }

  /** Whether user and password match an entry. bcrypt's comparison is constant-time. */
  async verify(user: string, password: string): Promise<boolean> {
    const now = Date.now();
    if (now - this.checkedAt > 1000) {
      this.checkedAt = now;
      try {
        this.reload();
      } catch {
        // Keep the last good set while the file is being replaced.
      }
    }
    const hash = this.users.get(user);
    const ok = await bcrypt.compare(password, hash ?? DUMMY_HASH);
    return ok && hash !== undefined;
  }

  has(user: string): boolean {
    return this.users.has(user);
  }
}
