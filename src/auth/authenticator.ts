import bcrypt from 'bcryptjs';
import picomatch from 'picomatch';
import type { AccessPolicy, Action } from './access.js';
import type { Htpasswd } from './htpasswd.js';

/** Accounts kept in the metadata store (users and CI robots), as the authenticator needs them. */
export interface AccountSource {
  get(name: string): Promise<{ kind: 'user' | 'robot'; passwordHash: string; grants: { repositories: string[]; actions: string[] } | null; expiresAt: number | null } | null>;
}

/** Someone who proved who they are (or nobody: `name` null), and what they may do. */
export interface Principal {
  name: string | null;
  allows(repo: string, action: Action): boolean;
}

const DUMMY_HASH = bcrypt.hashSync('kura-no-such-account', 4);

/**
 * Checks credentials against stored accounts first, then the htpasswd file. A robot's rights are its
 * own grants (and end at its expiry); a user's come from the access rules.
 */
export class Authenticator {
  constructor(
    private readonly htpasswd: Htpasswd | null,
    private readonly accounts: AccountSource | null,
    readonly policy: AccessPolicy,
  ) {}

  readonly anonymous: Principal = { name: null, allows: (repo, action) => this.policy.allows(null, repo, action) };

  async login(name: string, password: string): Promise<Principal | null> {
    const account = await this.accounts?.get(name);
    if (account) {
      const ok = await bcrypt.compare(password, account.passwordHash);
      if (!ok || (account.expiresAt !== null && account.expiresAt <= Date.now())) return null;
      return this.principal(name, account);
    }
    if (this.htpasswd && (await this.htpasswd.verify(name, password))) return this.principal(name, null);
    await bcrypt.compare(password, DUMMY_HASH); // same work for unknown names
    return null;
  }

  /** The rights of a named account, without its password (for token subjects); null when it is gone or expired. */
  async byName(name: string): Promise<Principal | null> {
    const account = await this.accounts?.get(name);
    if (account) return account.expiresAt !== null && account.expiresAt <= Date.now() ? null : this.principal(name, account);
    return this.htpasswd?.has(name) ? this.principal(name, null) : null;
  }

  private principal(name: string, account: Awaited<ReturnType<AccountSource['get']>>): Principal {
    const grants = account?.kind === 'robot' ? account.grants : null;
    if (grants) {
      const repos = picomatch(grants.repositories);
      return { name, allows: (repo, action) => repos(repo) && (grants.actions.includes(action) || grants.actions.includes('admin')) };
    }
    return { name, allows: (repo, action) => this.policy.allows(name, repo, action) };
  }
}
