// Web UI sessions: who is signed in (by cookie), the CSRF token of every form, cookie parsing and writing.
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'kura_session';
export const CSRF_COOKIE = 'kura_csrf';
export const THEME_COOKIE = 'kura_theme';

/** How long a session lasts without being used. */
const IDLE_MS = 12 * 60 * 60 * 1000;
/** Sessions kept at most; the least recently used goes first. */
const MAX_SESSIONS = 10_000;

export interface Session {
  id: string;
  /** The account signed in (its rights are looked up again on every request). */
  name: string;
  csrf: string;
  lastUsed: number;
}

export function token(): string {
  return randomBytes(24).toString('base64url');
}

/** Sessions in memory: a restart signs everyone out (documented in docs/ui.md). */
export class Sessions {
  private readonly map = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(name: string): Session {
    const s: Session = { id: token(), name, csrf: token(), lastUsed: this.now() };
    this.map.set(s.id, s);
    while (this.map.size > MAX_SESSIONS) this.map.delete(this.map.keys().next().value!);
    return s;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.map.get(id);
    if (!s) return null;
    this.map.delete(id);
    if (this.now() - s.lastUsed > IDLE_MS) return null;
    s.lastUsed = this.now();
    this.map.set(id, s);
    return s;
  }

  drop(id: string): void {
    this.map.delete(id);
  }
}

/** The cookies of a request (`a=b; c=d`); malformed pairs are skipped. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k && /^[A-Za-z0-9_.~-]*$/.test(v) && !out.has(k)) out.set(k, v);
  }
  return out;
}

/** A Set-Cookie value: HttpOnly, SameSite=Strict, path /ui, Secure under TLS; maxAge 0 clears it. */
export function cookie(name: string, value: string, opts: { secure: boolean; maxAge?: number }): string {
  const parts = [`${name}=${value}`, 'Path=/ui', 'HttpOnly', 'SameSite=Strict'];
  if (opts.secure) parts.push('Secure');
  if (opts.maxAge !== undefined) parts.push(`Max-Age=${opts.maxAge}`);
  return parts.join('; ');
}

/** Constant-time comparison of a submitted CSRF token with the expected one. */
export function sameToken(given: string | undefined, expected: string): boolean {
  if (!given || !expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
