import { randomBytes } from 'node:crypto';
import type { Account, AuditEvent, MetadataStore } from '../metadata/types.js';
import { OciError } from '../oci/errors.js';
import { ACTIONS, isAction } from '../oci/actions.js';

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** An account as shown to operators: everything but the password hash. */
export type AccountView = Omit<Account, 'passwordHash'>;

async function hash(secret: string): Promise<string> {
  // Loaded on first use: a registry without accounts never pays for bcrypt.
  const bcrypt = (await import('bcryptjs')).default;
  return bcrypt.hash(secret, 10);
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new OciError(
      'NAME_INVALID',
      `invalid account name "${String(name).slice(0, 80)}": use 1-64 of a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  return name;
}

/**
 * Users and CI robots kept in the metadata store, shared by the CLI (`kura user`, `kura token`) and
 * the admin API. Every change is recorded in the audit trail with who made it and from where.
 */
/** bcrypt reads only the first 72 bytes of a password: a longer one would be cut silently. */
function checkPassword(secret: string): void {
  if (secret.length < 8) throw new OciError('DENIED', 'the password must have at least 8 characters');
  if (Buffer.byteLength(secret) > 72)
    throw new OciError('DENIED', 'the password must have at most 72 bytes (bcrypt ignores the rest)');
}

export class Accounts {
  /** `reserved`: names taken elsewhere (the htpasswd file), which a store account must not shadow. */
  constructor(
    private readonly meta: MetadataStore,
    private readonly reserved: (name: string) => boolean = () => false,
  ) {}

  private async checkFree(name: string, hint: string): Promise<void> {
    if (this.reserved(name))
      throw new OciError('DENIED', `${name} is a user of the htpasswd file; choose another name`);
    if (await this.meta.accounts.get(name)) throw new OciError('DENIED', `account ${name} exists; ${hint}`);
  }

  private async audit(by: { actor: string | null; address: string }, action: string, name: string): Promise<void> {
    const e: AuditEvent = {
      at: Date.now(),
      actor: by.actor,
      address: by.address,
      action,
      repository: null,
      reference: name,
      status: 0,
    };
    await this.meta.audit.append([e]);
  }

  /** Adds a user; generates a password when none is given. Resolves to the password. */
  async addUser(
    name: string,
    password: string | undefined,
    by: { actor: string | null; address: string },
  ): Promise<string> {
    checkName(name);
    const secret = password ?? randomBytes(18).toString('base64url');
    checkPassword(secret);
    await this.checkFree(name, `change its password instead ("kura user passwd ${name}")`);
    await this.meta.accounts.put({
      name,
      kind: 'user',
      passwordHash: await hash(secret),
      grants: null,
      createdAt: Date.now(),
      expiresAt: null,
    });
    await this.audit(by, 'account-add', name);
    return secret;
  }

  async setPassword(
    name: string,
    password: string | undefined,
    by: { actor: string | null; address: string },
  ): Promise<string> {
    const secret = password ?? randomBytes(18).toString('base64url');
    checkPassword(secret);
    const a = await this.meta.accounts.get(name);
    if (!a) throw new OciError('NAME_UNKNOWN', `no account ${name}`);
    await this.meta.accounts.put({ ...a, passwordHash: await hash(secret) });
    await this.audit(by, 'account-passwd', name);
    return secret;
  }

  /** Creates a robot limited to `repositories` × `actions` until `expiresAt`; resolves to its secret (shown once). */
  async addRobot(
    spec: { name?: string; repositories: string[]; actions: string[]; expiresAt: number | null },
    by: { actor: string | null; address: string },
  ): Promise<{ name: string; secret: string }> {
    const name = checkName(spec.name ?? `robot-${randomBytes(5).toString('hex')}`);
    const bad = spec.actions.filter((a) => !isAction(a));
    if (spec.actions.length === 0 || bad.length > 0)
      throw new OciError('DENIED', `actions must be some of ${ACTIONS.join(', ')}`);
    if (spec.repositories.length === 0) throw new OciError('DENIED', 'a robot needs at least one repository glob');
    if (spec.expiresAt !== null && !(spec.expiresAt > Date.now()))
      throw new OciError('DENIED', 'a robot must expire in the future');
    await this.checkFree(name, 'choose another name');
    const secret = randomBytes(24).toString('base64url');
    await this.meta.accounts.put({
      name,
      kind: 'robot',
      passwordHash: await hash(secret),
      grants: { repositories: spec.repositories, actions: spec.actions },
      createdAt: Date.now(),
      expiresAt: spec.expiresAt,
    });
    await this.audit(by, 'robot-create', name);
    return { name, secret };
  }

  async remove(name: string, by: { actor: string | null; address: string }): Promise<void> {
    if (!(await this.meta.accounts.delete(name))) throw new OciError('NAME_UNKNOWN', `no account ${name}`);
    await this.audit(by, 'account-remove', name);
  }

  async list(): Promise<AccountView[]> {
    return (await this.meta.accounts.list()).map(({ passwordHash: _h, ...a }) => a);
  }
}
