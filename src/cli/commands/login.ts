/** `kura login` and `kura logout`, like docker's. */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { DOCKER_HUB } from '../../oci/imageref.js';
// The files themselves, and the client and the credential store only when an action runs (start-up).
import { normalizeServerKey } from '../../transports/registry/credentials.js';
import { UsageError } from '../errors.js';
import { outputFlags, readStdin, registryFlags } from '../options.js';

interface LoginOptions {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
}

/**
 * `docker.io`, `https://index.docker.io/v1/`, `http://127.0.0.1:5000` → the registry name; `http://` asks for plain
 * HTTP.
 */
function serverOf(arg: string | undefined): { registry: string; plainHttp?: boolean } {
  const s = arg?.trim() || DOCKER_HUB;
  return { registry: normalizeServerKey(s).split('/')[0]!, ...(/^http:\/\//i.test(s) ? { plainHttp: true } : {}) };
}

/** Asks on the terminal; `hidden` echoes nothing (for passwords). */
export function ask(question: string, hidden: boolean): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    const out = rl as unknown as { _writeToOutput(s: string): void };
    out._writeToOutput = (s: string) => {
      if (s.startsWith(question) || s === '\r\n' || s === '\n')
        process.stderr.write(s.startsWith(question) ? question : s);
    };
  }
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

async function credentialsFrom(opts: LoginOptions): Promise<{ username: string; password: string }> {
  const tty = process.stdin.isTTY === true;
  if (opts.password !== undefined && opts.passwordStdin)
    throw new UsageError('--password and --password-stdin are mutually exclusive');
  if (opts.password !== undefined)
    process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  let username = opts.username;
  if (username === undefined) {
    if (opts.passwordStdin || !tty) throw new Error('give the user name with -u USER (no terminal to ask on)');
    username = (await ask('Username: ', false)).trim();
  }
  let password = opts.password;
  if (password === undefined) {
    if (opts.passwordStdin) password = await readStdin();
    else if (tty) password = await ask('Password: ', true);
    else throw new UsageError('give the password with --password-stdin (no terminal to ask on)');
  }
  if (!username) throw new Error('the user name is empty');
  if (!password) throw new Error('the password is empty');
  return { username, password };
}

/**
 * `kura login [SERVER]` and `kura logout [SERVER]`, like docker's: verified first, then saved in the docker config or
 * its helper.
 */
export function registerLogin(program: Command): void {
  const login = program
    .command('login [server]')
    .description(
      'log in to a registry (default docker.io): the credentials are checked against it, then saved like docker ' +
        'login saves them',
    )
    .option('-u, --username <user>', 'user name')
    .option(
      '-p, --password <password>',
      'password or token (visible to other users of this machine: prefer --password-stdin)',
    )
    .option('--password-stdin', 'read the password or token from stdin');
  registryFlags(login, { creds: false, mirror: false });
  outputFlags(login).action(
    async (server: string | undefined, opts: LoginOptions & { json?: boolean; caFile?: string }) => {
      const { registry, plainHttp } = serverOf(server);
      const creds = await credentialsFrom(opts);
      const { RegistryClient } = await import('../../transports/registry/client.js');
      const { storeCredentials } = await import('../../transports/registry/credentials-store.js');
      const client = new RegistryClient({
        registry,
        plainHttp: opts.plainHttp ?? plainHttp,
        insecure: opts.insecure,
        caFile: opts.caFile,
        credentials: creds,
      });
      try {
        await client.ping();
      } catch (e) {
        if ((e as { code?: string }).code === 'UNAUTHORIZED')
          throw new Error(
            `login to ${registry} failed: the registry refused the credentials of "${creds.username}"; nothing was ` +
              `saved`,
          );
        throw e;
      }
      const where = await storeCredentials(registry, creds.username, creds.password);
      if (!where.includes('credential helper'))
        process.stderr.write(
          `WARNING! The password is stored unencrypted in ${where}; configure a credential helper (credsStore) to ` +
            `avoid this.\n`,
        );
      process.stdout.write(
        opts.json
          ? JSON.stringify({ registry, username: creds.username, storedIn: where }) + '\n'
          : 'Login Succeeded\n',
      );
    },
  );
  const logout = program.command('logout [server]');
  logout.description('remove the saved credentials of a registry (default docker.io)');
  outputFlags(logout).action(async (server: string | undefined, opts: { json?: boolean }) => {
    const { registry } = serverOf(server);
    const { eraseCredentials } = await import('../../transports/registry/credentials-store.js');
    const found = await eraseCredentials(registry);
    if (opts.json) process.stdout.write(JSON.stringify({ registry, removed: found }) + '\n');
    else
      process.stdout.write(found ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
  });
}
