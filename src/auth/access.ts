import picomatch from 'picomatch';

export const ACTIONS = ['pull', 'push', 'delete', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

/** Who may do what where: users (globs; "*" is any authenticated user) on repositories (globs). */
export interface AccessRule {
  users?: string[];
  repositories: string[];
  actions: Action[];
}

/** A caller: an authenticated user name, or null for anonymous. */
export type Identity = string | null;

/**
 * Permission rules. Anonymous callers get only what `anonymous` rules grant; authenticated ones what
 * `rules` grant (with no rules at all, every authenticated user may do everything, as with
 * Distribution's htpasswd). `admin` implies every other action.
 */
export class AccessPolicy {
  private readonly compiled: { users: ((s: string) => boolean) | null; repos: (s: string) => boolean; actions: Set<Action> }[];
  private readonly anon: { repos: (s: string) => boolean; actions: Set<Action> }[];

  constructor(
    rules: AccessRule[],
    anonymous: { repositories: string[]; actions: Action[] }[],
  ) {
    this.compiled = rules.map((r) => ({
      users: r.users ? picomatch(r.users) : null,
      repos: picomatch(r.repositories),
      actions: new Set(r.actions),
    }));
    this.anon = anonymous.map((r) => ({ repos: picomatch(r.repositories), actions: new Set(r.actions) }));
  }

  allows(who: Identity, repo: string, action: Action): boolean {
    const grants = (actions: Set<Action>) => actions.has(action) || actions.has('admin');
    if (who === null) return this.anon.some((r) => r.repos(repo) && grants(r.actions));
    if (this.compiled.length === 0) return true;
    return this.compiled.some((r) => (r.users === null || r.users(who)) && r.repos(repo) && grants(r.actions));
  }

  /** The subset of `wanted` that `who` may do on `repo`. */
  granted(who: Identity, repo: string, wanted: Action[]): Action[] {
    return wanted.filter((a) => this.allows(who, repo, a));
  }
}

/** Parses `repository:team/app:pull,push` scopes (docker may send several, space-separated). */
export function parseScopes(scopes: string[]): { type: string; name: string; actions: Action[] }[] {
  const out: { type: string; name: string; actions: Action[] }[] = [];
  for (const s of scopes.flatMap((x) => x.split(' ')).filter(Boolean)) {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    out.push({
      type: s.slice(0, first),
      name: s.slice(first + 1, last),
      actions: s
        .slice(last + 1)
        .split(',')
        .map((a) => (a === '*' ? 'admin' : a))
        .filter((a): a is Action => ['pull', 'push', 'delete', 'admin'].includes(a)),
    });
  }
  return out;
}
