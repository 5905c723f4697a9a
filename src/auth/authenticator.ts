import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import type { Action } from '../oci/actions.js';
import { GLOBAL, type AccessPolicy } from './access.js';
import type { Htpasswd } from './htpasswd.js';
import { dummyHash, PasswordVerifier } from './passwords.js';

/** Accounts kept in the metadata store (users and CI robots), as the authenticator needs them. */
export interface AccountSource {
  get(name: string): Promise<{
    kind: 'user' | 'robot';
    passwordHash: string;
    grants: { repositories: string[]; actions: string[] } | null;
    expiresAt: number | null;
  } | null>;
}

/** Someone who proved who they are (or nobody: `name` null), and what they may do. */
export interface Principal {
  name: string | null;
  allows(repo: string, action: Action): boolean;
  /** Whether this principal may use the global admin API: an explicit grant, never a glob match. */
  admin: boolean;
}

/** The bcrypt cost of store accounts (registry/accounts.ts). */
const STORE_COST = 10;

/**
 * Checks credentials against the htpasswd file and the accounts in the store (a name is in one or
 * the other: the store refuses names the file has). A robot's rights are its own grants (and end at
 * its expiry); a user's come from the access rules. Everyone signed in also has the anonymous rights.
 * Every login does exactly one bcrypt comparison, off the event loop: unknown names against a dummy
 * hash of the highest cost in use, so response times do not tell which names exist.
 */
export class Authenticator {
  private readonly dummies = new Map<number, string>();

  constructor(
    private readonly htpasswd: Htpasswd | null,
    private readonly accounts: AccountSource | null,
    readonly policy: AccessPolicy,
    readonly verifier: PasswordVerifier = new PasswordVerifier(),
  ) {}

  readonly anonymous: Principal = {
    name: null,
    allows: (repo, action) => this.policy.allows(null, repo, action),
    admin: false,
  };

  private dummy(): string {
    const cost = Math.max(this.accounts ? STORE_COST : 4, this.htpasswd?.maxCost ?? 0);
    let h = this.dummies.get(cost);
    if (!h) this.dummies.set(cost, (h = dummyHash(cost)));
    return h;
  }

  /** The stored hash behind a name: its store account, else its htpasswd entry. */
  private async lookup(name: string) {
    const account = (await this.accounts?.get(name)) ?? null;
    const hash = account?.passwordHash ?? this.htpasswd?.hashOf(name);
    return { account, hash };
  }

  async login(name: string, password: string): Promise<Principal | null> {
    const { account, hash } = await this.lookup(name);
    const ok = await this.verifier.compare(password, hash ?? this.dummy());
    if (!ok || hash === undefined) return null;
    if (account?.expiresAt != null && account.expiresAt <= Date.now()) return null;
    return this.principal(name, account);
  }

  /** The rights of a named account, without its password (for token subjects); null when it is gone or expired. */
  async byName(name: string): Promise<Principal | null> {
    const { account, hash } = await this.lookup(name);
    if (hash === undefined) return null;
    if (account?.expiresAt != null && account.expiresAt <= Date.now()) return null;
    return this.principal(name, account);
  }

  /**
   * A short fingerprint of a name's current credential (a digest of its password hash), null when
   * the account is gone: refresh tokens carry it, so a password change revokes them.
   */
  async credentialVersion(name: string): Promise<string | null> {
    const { hash } = await this.lookup(name);
    return hash === undefined ? null : createHash('sha256').update(hash).digest('base64url').slice(0, 22);
  }

  /** Whether the htpasswd file has this name (a store account may not take it). */
  inHtpasswd(name: string): boolean {
    return this.htpasswd?.has(name) ?? false;
  }

  private principal(name: string, account: Awaited<ReturnType<AccountSource['get']>>): Principal {
    const grants = account?.kind === 'robot' ? account.grants : null;
    if (grants) {
      const repos = picomatch(grants.repositories);
      const has = (a: string) => grants.actions.includes(a) || grants.actions.includes('admin');
      return {
        name,
        allows: (repo, action) => (repos(repo) && has(action)) || this.policy.allows(null, repo, action),
        admin: grants.repositories.includes(GLOBAL) && grants.actions.includes('admin'),
      };
    }
    return {
      name,
      allows: (repo, action) => this.policy.allows(name, repo, action),
      admin: this.policy.isGlobalAdmin(name),
    };
  }

  async close(): Promise<void> {
    await this.verifier.close();
  }
}
