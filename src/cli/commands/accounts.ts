import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Accounts } from '../../registry/accounts.js';
import { UsageError } from '../errors.js';
import { loadServeConfig } from '../server-config.js';
import { jsonFlag, readStdin } from '../options.js';

/** Runs `fn` on the accounts of a data directory no server is using (a running one has /admin/v1/accounts). */
async function withAccounts<T>(
  opts: { config?: string; data?: string },
  fn: (accounts: Accounts) => Promise<T>,
): Promise<T> {
  const config = await loadServeConfig({
    file: opts.config,
    env: process.env,
    flags: opts.data ? { data: opts.data } : {},
  });
  const { openRegistry } = await import('../../server/open.js');
  const { registry } = await openRegistry(config);
  try {
    return await fn(registry.accounts());
  } finally {
    await registry.close();
  }
}

function me(): { actor: string; address: string } {
  let who = 'unknown';
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry for this uid
  }
  return { actor: `cli:${who}`, address: 'local' };
}

/** `kura user add|rm|list|passwd` and `kura token create`: accounts in the metadata store (auth.accounts). */
export function registerAccounts(program: Command): void {
  const common = (c: Command) =>
    c
      .option('-c, --config <file>', 'YAML config file, as for kura serve')
      .option('--data <dir>', 'data directory no server is using (default ./data)');
  const user = program
    .command('user')
    .description(
      'users kept in the registry (enable with auth.accounts: true); with a server running use its ' +
        '/admin/v1/accounts API',
    );
  common(
    user
      .command('add <name>')
      .description('add a user; the password is read from stdin (--password-stdin) or generated and printed'),
  )
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, opts: { config?: string; data?: string; passwordStdin?: boolean }) => {
      const given = opts.passwordStdin ? await readStdin() : undefined;
      const secret = await withAccounts(opts, (a) => a.addUser(name, given, me()));
      if (!given) process.stdout.write(`${secret}\n`);
      process.stderr.write(`kura user: added ${name}\n`);
    });
  common(
    user
      .command('passwd <name>')
      .description('set a new password (from stdin with --password-stdin, else generated and printed)'),
  )
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, opts: { config?: string; data?: string; passwordStdin?: boolean }) => {
      const given = opts.passwordStdin ? await readStdin() : undefined;
      const secret = await withAccounts(opts, (a) => a.setPassword(name, given, me()));
      if (!given) process.stdout.write(`${secret}\n`);
    });
  common(user.command('rm <name>').description('remove a user or robot')).action(
    async (name: string, opts: { config?: string; data?: string }) => {
      await withAccounts(opts, (a) => a.remove(name, me()));
    },
  );
  common(user.command('list').description('list users and robots'))
    .addOption(jsonFlag('print JSON'))
    .action(async (opts: { config?: string; data?: string; json?: boolean }) => {
      const view = await withAccounts(opts, (a) => a.list());
      if (opts.json) return void process.stdout.write(JSON.stringify(view, null, 2) + '\n');
      for (const a of view) {
        const grants = a.grants
          ? `${a.grants.actions.join(',')} on ${a.grants.repositories.join(' ')}`
          : 'access rules';
        const expires = a.expiresAt === null ? 'never' : new Date(a.expiresAt).toISOString();
        process.stdout.write(`${a.name}\t${a.kind}\t${grants}\texpires ${expires}\n`);
      }
    });

  const token = program.command('token').description('robot tokens for CI');
  common(
    token
      .command('create')
      .description('create a robot account limited to some repositories and actions; prints its name and secret once'),
  )
    .requiredOption('--repo <glob...>', 'repositories it may use (globs, e.g. "team/*")')
    .option('--actions <list>', 'comma-separated: pull,push,delete', 'pull')
    .option('--expires <duration>', 'lifetime, e.g. 30d (default: never)')
    .option('--name <name>', 'robot name (default: robot-<random>)')
    .addOption(jsonFlag('print JSON'))
    .action(
      async (opts: {
        config?: string;
        data?: string;
        repo: string[];
        actions: string;
        expires?: string;
        name?: string;
        json?: boolean;
      }) => {
        const actions = opts.actions
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean);
        let expiresAt: number | null = null;
        if (opts.expires) {
          const { duration } = await import('../../config/values.js');
          const d = duration.safeParse(opts.expires);
          if (!d.success) throw new UsageError(`--expires takes a duration such as 30d or 12h, not "${opts.expires}"`);
          expiresAt = Date.now() + d.data;
        }
        const robot = await withAccounts(opts, (a) =>
          a.addRobot({ name: opts.name, repositories: opts.repo, actions, expiresAt }, me()),
        );
        if (opts.json)
          process.stdout.write(
            JSON.stringify(
              { username: robot.name, password: robot.secret, repositories: opts.repo, actions, expiresAt },
              null,
              2,
            ) + '\n',
          );
        else process.stdout.write(`username: ${robot.name}\npassword: ${robot.secret}\n`);
        process.stderr.write(
          `kura token: ${robot.name} may ${actions.join(',')} ` +
            `${opts.repo.join(' ')}${expiresAt ? ` until ${new Date(expiresAt).toISOString()}` : ''}; the password ` +
            `is shown only now\n`,
        );
      },
    );
}
