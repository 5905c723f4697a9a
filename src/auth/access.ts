import picomatch from 'picomatch';
import { isAction, type Action } from '../oci/actions.js';

/** Who may do what where: users (globs; "*" is any authenticated user) on repositories (globs). */
export interface AccessRule {
  users?: string[];
  repositories: string[];
  actions: Action[];
}

/** A caller: an authenticated user name, or null for anonymous. */
export type Identity = string | null;

/** The literal repository pattern that, with the admin action, makes a global admin (never glob-matched). */
export const GLOBAL = '**';

/**
 * Permission rules. Anonymous callers get only what `anonymous` rules grant; authenticated ones what
 * `rules` grant, plus what anonymous callers may do. With no rules at all, every authenticated user
 * may pull, push and delete everywhere (as with Distribution's htpasswd), but nobody is an admin.
 * `admin` on a repository implies every other action there. The global admin API needs an explicit
 * grant: a name in `admins`, or a rule whose repositories list holds exactly "**" with `admin`.
 */
export class AccessPolicy {
  private readonly compiled: {
    users: ((s: string) => boolean) | null;
    repos: (s: string) => boolean;
    actions: Set<Action>;
    global: boolean;
  }[];
  private readonly anon: { repos: (s: string) => boolean; actions: Set<Action> }[];
  private readonly admins: Set<string>;

  constructor(rules: AccessRule[], anonymous: { repositories: string[]; actions: Action[] }[], admins: string[] = []) {
    this.compiled = rules.map((r) => ({
      users: r.users ? picomatch(r.users) : null,
      repos: picomatch(r.repositories),
      actions: new Set(r.actions),
      global: r.repositories.includes(GLOBAL) && r.actions.includes('admin'),
    }));
    this.anon = anonymous.map((r) => ({ repos: picomatch(r.repositories), actions: new Set(r.actions) }));
    this.admins = new Set(admins);
  }

  /** Whether there are no rules, so signed-in users get pull, push and delete everywhere. */
  get open(): boolean {
    return this.compiled.length === 0;
  }

  allows(who: Identity, repo: string, action: Action): boolean {
    const grants = (actions: Set<Action>) => actions.has(action) || actions.has('admin');
    if (this.anon.some((r) => r.repos(repo) && grants(r.actions))) return true;
    if (who === null) return false;
    if (this.isGlobalAdmin(who)) return true;
    if (this.compiled.length === 0) return action !== 'admin';
    return this.compiled.some((r) => (r.users === null || r.users(who)) && r.repos(repo) && grants(r.actions));
  }

  /** Whether `who` may use the global admin API (accounts, audit, usage): an explicit grant only. */
  isGlobalAdmin(who: Identity): boolean {
    if (who === null) return false;
    return this.admins.has(who) || this.compiled.some((r) => r.global && (r.users === null || r.users(who)));
  }

  /** The subset of `wanted` that `who` may do on `repo`. */
  granted(who: Identity, repo: string, wanted: Action[]): Action[] {
    return wanted.filter((a) => this.allows(who, repo, a));
  }
}

/** At most this many scopes are read from one token request. */
const MAX_SCOPES = 64;

/**
 * Parses `repository:team/app:pull,push` scopes (docker may send several, space-separated). Scopes
 * naming no valid repository are dropped, so nothing unusable is ever put into a token.
 */
export function parseScopes(
  scopes: string[],
  validName: (name: string) => boolean = () => true,
): { type: string; name: string; actions: Action[] }[] {
  const out: { type: string; name: string; actions: Action[] }[] = [];
  for (const s of scopes
    .flatMap((x) => x.split(' '))
    .filter(Boolean)
    .slice(0, MAX_SCOPES)) {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    const type = s.slice(0, first);
    const name = s.slice(first + 1, last);
    if (type === 'repository' && !validName(name)) continue;
    out.push({
      type,
      name,
      actions: s
        .slice(last + 1)
        .split(',')
        .map((a) => (a === '*' ? 'admin' : a))
        .filter(isAction),
    });
  }
  return out;
}
