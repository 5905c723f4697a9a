/** Commands that work on a data directory or, through its admin API, on the server running on it (gc, usage, …). */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ServeConfig } from '../config/schema.js';
import type { Registry } from '../registry/registry.js';
import { UsageError } from './errors.js';
import { registryFlags } from './options.js';

/** The flags of a command that can ask a running `kura serve` (`--server URL`). */
export interface ServerFlags {
  server?: string;
  creds?: string;
  insecure?: boolean;
  caFile?: string;
}

/**
 * `--server URL`, `--creds USER:PASSWORD`, `--insecure` and `--ca-file`, as for every command that talks to a registry.
 */
export function serverOptions(cmd: Command, what: string): Command {
  const example = 'e.g. https://registry.example:5000 (default: the server running on --data, if any)';
  cmd.option('--server <url>', `ask a running kura serve (${what}) instead, ${example}`);
  // --server says http:// or https://, so no --plain-http.
  const creds = 'credentials of an admin for --server (default: kura login, docker login)';
  return registryFlags(cmd, { creds, plainHttp: false, mirror: false });
}

/** One call of a running server's admin API: JSON in the answer, or an error naming the server and its reason. */
export type AdminCall = <T>(method: 'GET' | 'POST', path: string) => Promise<T>;

/**
 * Kura's admin API through the registry client: the same credentials (--creds, else the stored
 * ones), Basic or token authentication (asking for the registry:admin:* scope), TLS options and
 * error messages as every registry command.
 */
function adminCall(o: ServerFlags & { server: string }): AdminCall {
  let url: URL;
  try {
    url = new URL(o.server);
  } catch {
    throw new UsageError(`--server takes a URL such as https://127.0.0.1:5000, not "${o.server}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--server takes an http:// or https:// URL, not "${o.server}"`);
  }
  // The registry client loads on the first call (`kura gc --help` does without it), one for all calls.
  const connect = async () => {
    const [{ registryClient }, { scopes }, http] = await Promise.all([
      import('../transports/registry/location.js'),
      import('../transports/registry/index.js'),
      import('../transports/registry/index.js'),
    ]);
    const plainHttp = url.protocol === 'http:';
    const client = registryClient(url.host, { creds: o.creds, insecure: o.insecure, caFile: o.caFile, plainHttp });
    return { client, http, need: { scopes: [...scopes.catalog(), 'registry:admin:*'] } };
  };
  let connected: ReturnType<typeof connect> | undefined;
  return async <T>(method: 'GET' | 'POST', path: string): Promise<T> => {
    const { client, http, need } = await (connected ??= connect());
    const { bodyText, discard } = http;
    // Admin POSTs carry JSON (an empty object), which a browser cannot send cross-site without a preflight.
    const init = method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') } : {};
    const res = await client.endpoint.request(method, path, need, init);
    if (res.status === 401)
      throw await client.endpoint.error(res, `${method} ${url.origin}${path.split('?')[0]}`, need);
    if (res.status !== 200) {
      let reason = '';
      try {
        const text = await bodyText(res, 1 << 20);
        reason = (JSON.parse(text) as { errors?: { message?: string }[] }).errors?.[0]?.message ?? text.slice(0, 300);
      } catch {
        await discard(res);
      }
      // The server's own reason (e.g. "authentication is off: …", "… may not admin") says what to do.
      throw new Error(
        `${url.origin} answered ${res.status} to ${method} ` +
          `${path.split('?')[0]}${reason ? `: ${reason}` : '; is it a kura server?'}`,
      );
    }
    return JSON.parse(await bodyText(res, 256 << 20)) as T;
  };
}

/**
 * Runs a maintenance command on the store itself when no server holds it, else through the admin
 * API of the server: the one named by --server, or the one running on the data directory (found by
 * the URL it leaves there). `where` names what was worked on, for the command's summary line.
 */
export async function onStoreOrServer<T>(
  config: ServeConfig,
  opts: ServerFlags,
  local: (registry: Registry) => Promise<T>,
  remote: (call: AdminCall) => Promise<T>,
): Promise<{ result: T; where: string; remote: boolean }> {
  if (opts.server)
    return { result: await remote(adminCall({ ...opts, server: opts.server })), where: opts.server, remote: true };
  const found = await openOrFindServer(config);
  if ('server' in found) {
    return { result: await remote(adminCall({ ...opts, server: found.server })), where: found.dataDir, remote: true };
  }
  try {
    return { result: await local(found.registry), where: found.dataDir, remote: false };
  } finally {
    await found.registry.close();
  }
}

/**
 * The store of a data directory no server holds, or else the URL of the server running on it.
 */
async function openOrFindServer(
  config: ServeConfig,
): Promise<{ registry: Registry; dataDir: string } | { server: string; dataDir: string }> {
  // The store's modules (SQLite) load only when a command runs; the HTTP layer never does.
  const { DataDirInUseError, openRegistry, SERVER_FILE } = await import('../server/open.js');
  try {
    const opened = await openRegistry(config);
    return { registry: opened.registry, dataDir: opened.dataDir };
  } catch (e) {
    if (!(e instanceof DataDirInUseError)) throw e;
    const url = runningServer(e.dataDir, SERVER_FILE);
    if (!url) throw new Error(`${e.message} (and it left no ${SERVER_FILE}: pass --server URL)`);
    return { server: url, dataDir: e.dataDir };
  }
}

/** The URL a running server left in its data directory, or null. */
function runningServer(dataDir: string, serverFile: string): string | null {
  try {
    const doc = JSON.parse(readFileSync(join(resolve(dataDir), serverFile), 'utf8')) as { url?: unknown };
    return typeof doc.url === 'string'
      ? doc.url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:')
      : null;
  } catch {
    return null;
  }
}
