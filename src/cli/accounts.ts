import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { ACTIONS } from '../auth/access.js';
import { loadServeConfig } from '../config/load.js';
import { duration } from '../config/schema.js';
import { openEmbeddedRegistry } from '../http/server.js';
import type { Account, MetadataStore } from '../metadata/types.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Runs `fn` on the metadata store of a data directory no server is using. */
async function withStore<T>(opts: { config?: string; data?: string }, fn: (meta: MetadataStore) => Promise<T>): Promise<T> {
  const config = loadServeConfig({ file: opts.config, env: process.env, flags: opts.data ? { data: opts.data } : {} });
  const { registry } = openEmbeddedRegistry(config);
  try {
    return await fn(registry.meta);
  } finally {
    await registry.close();
  }
}

/** bcrypt, loaded only by these commands (not by `kura serve` without authentication). */
async function hash(secret: string, rounds: number): Promise<string> {
  const bcrypt = (await import('bcryptjs')).default;
  return bcrypt.hash(secret, rounds);
}

/** Account changes go to the audit trail like everything else that changes who may do what. */
async function audited(meta: MetadataStore, action: string, name: string): Promise<void> {
  let who = 'unknown';
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry for this uid
  }
  await meta.appendAudit([{ at: Date.now(), actor: `cli:${who}`, address: 'local', action, repository: null, reference: name, status: 0 }]);
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function checkName(name: string): string {
  if (!NAME_RE.test(name)) throw new Error(`invalid account name "${name.slice(0, 80)}": use 1-64 of a-z 0-9 . _ - starting with a letter or digit`);
  return name;
}

/** `kura user add|rm|list|passwd` and `kura token create`: accounts in the metadata store (auth.accounts). */
export function registerAccounts(program: Command): void {
  const common = (c: Command) => c.option('-c, --config <file>', 'YAML config file, as for kura serve').option('--data <dir>', 'data directory no server is using (default ./data)');
  const user = program.command('user').description('users kept in the registry (enable with auth.accounts: true); run while no server uses the data directory');
  common(user.command('add <name>').description('add a user; the password is read from stdin (--password-stdin) or generated and printed'))
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, opts: { config?: string; data?: string; passwordStdin?: boolean }) => {
      checkName(name);
      const password = opts.passwordStdin ? await readStdin() : randomBytes(18).toString('base64url');
      if (password.length < 8) throw new Error('the password must have at least 8 characters');
      await withStore(opts, async (meta) => {
        if (await meta.getAccount(name)) throw new Error(`account ${name} exists; use "kura user passwd ${name}"`);
        await meta.putAccount({ name, kind: 'user', passwordHash: await hash(password, 10), grants: null, createdAt: Date.now(), expiresAt: null });
        await audited(meta, 'account-add', name);
      });
      if (!opts.passwordStdin) process.stdout.write(`${password}\n`);
      process.stderr.write(`kura user: added ${name}\n`);
    });
  common(user.command('passwd <name>').description('set a new password (from stdin with --password-stdin, else generated and printed)'))
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, opts: { config?: string; data?: string; passwordStdin?: boolean }) => {
      const password = opts.passwordStdin ? await readStdin() : randomBytes(18).toString('base64url');
      if (password.length < 8) throw new Error('the password must have at least 8 characters');
      await withStore(opts, async (meta) => {
        const a = await meta.getAccount(name);
        if (!a) throw new Error(`no account ${name}; add it with "kura user add ${name}"`);
        await meta.putAccount({ ...a, passwordHash: await hash(password, 10) });
        await audited(meta, 'account-passwd', name);
      });
      if (!opts.passwordStdin) process.stdout.write(`${password}\n`);
    });
  common(user.command('rm <name>').description('remove a user or robot'))
    .action(async (name: string, opts: { config?: string; data?: string }) => {
      const gone = await withStore(opts, async (meta) => {
        const ok = await meta.deleteAccount(name);
        if (ok) await audited(meta, 'account-remove', name);
        return ok;
      });
      if (!gone) throw new Error(`no account ${name}; "kura user list" shows them`);
    });
  common(user.command('list').description('list users and robots'))
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; data?: string; json?: boolean }) => {
      const accounts = await withStore(opts, (meta) => meta.listAccounts());
      const view = accounts.map(({ passwordHash: _h, ...a }) => a);
      if (opts.json) return void process.stdout.write(JSON.stringify(view, null, 2) + '\n');
      for (const a of view) {
        const grants = a.grants ? `${a.grants.actions.join(',')} on ${a.grants.repositories.join(' ')}` : 'access rules';
        const expires = a.expiresAt === null ? 'never' : new Date(a.expiresAt).toISOString();
        process.stdout.write(`${a.name}\t${a.kind}\t${grants}\texpires ${expires}\n`);
      }
    });

  const token = program.command('token').description('robot tokens for CI');
  common(token.command('create').description('create a robot account limited to some repositories and actions; prints its name and secret once'))
    .requiredOption('--repo <glob...>', 'repositories it may use (globs, e.g. "team/*")')
    .option('--actions <list>', 'comma-separated: pull,push,delete', 'pull')
    .option('--expires <duration>', 'lifetime, e.g. 30d (default: never)')
    .option('--name <name>', 'robot name (default: robot-<random>)')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; data?: string; repo: string[]; actions: string; expires?: string; name?: string; json?: boolean }) => {
      const actions = opts.actions.split(',').map((a) => a.trim()).filter(Boolean);
      const bad = actions.filter((a) => !(ACTIONS as readonly string[]).includes(a));
      if (bad.length > 0 || actions.length === 0) throw new Error(`--actions takes ${ACTIONS.join(', ')}, not "${opts.actions}"`);
      let expiresAt: number | null = null;
      if (opts.expires) {
        const d = duration.safeParse(opts.expires);
        if (!d.success) throw new Error(`--expires takes a duration such as 30d or 12h, not "${opts.expires}"`);
        expiresAt = Date.now() + d.data;
      }
      const name = checkName(opts.name ?? `robot-${randomBytes(5).toString('hex')}`);
      const secret = randomBytes(24).toString('base64url');
      const account: Account = { name, kind: 'robot', passwordHash: await hash(secret, 10), grants: { repositories: opts.repo, actions }, createdAt: Date.now(), expiresAt };
      await withStore(opts, async (meta) => {
        if (await meta.getAccount(name)) throw new Error(`account ${name} exists; choose another --name`);
        await meta.putAccount(account);
        await audited(meta, 'robot-create', name);
      });
      if (opts.json) process.stdout.write(JSON.stringify({ username: name, password: secret, repositories: opts.repo, actions, expiresAt }, null, 2) + '\n');
      else process.stdout.write(`username: ${name}\npassword: ${secret}\n`);
      process.stderr.write(`kura token: ${name} may ${actions.join(',')} ${opts.repo.join(' ')}${expiresAt ? ` until ${new Date(expiresAt).toISOString()}` : ''}; the password is shown only now\n`);
    });
}
