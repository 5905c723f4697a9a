import type { Command } from 'commander';
import { scopes } from '../transports/registry-auth.js';
import { bodyText, discard } from '../transports/registry-http.js';
import { registryClient } from './locations.js';

/** The flags of a command that can ask a running `kura serve` (`--server URL`). */
export interface ServerFlags {
  server?: string;
  creds?: string;
  insecure?: boolean;
  caFile?: string;
}

/** `--server URL`, `--creds USER:PASSWORD` and `--insecure`, as for every command that talks to a registry. */
export function serverOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--server <url>', `ask a running kura serve (${what}) instead, e.g. https://registry.example:5000`)
    .option('--creds <user:password>', 'credentials of a user with the admin action for --server (default: kura login, docker login)')
    .option('--insecure', 'HTTPS to a server with a self-signed or unknown certificate (no verification)')
    .option('--ca-file <file>', 'trust this PEM CA certificate for --server (besides the system\'s, and certs.d/HOST/*.crt)');
}

/**
 * GET of Kura's admin API through the registry client: the same credentials (--creds, else the
 * stored ones), Basic or token authentication, TLS options and error messages as every registry command.
 */
export async function adminGet<T>(o: ServerFlags & { server: string }, path: string): Promise<T> {
  let url: URL;
  try {
    url = new URL(o.server);
  } catch {
    throw new Error(`--server takes a URL such as https://127.0.0.1:5000, not "${o.server}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--server takes an http:// or https:// URL, not "${o.server}"`);
  const client = registryClient(url.host, { creds: o.creds, insecure: o.insecure, caFile: o.caFile, plainHttp: url.protocol === 'http:' });
  // Any scope gets a token that names the caller; the admin API checks the caller's admin action.
  const need = { scopes: scopes.catalog() };
  const res = await client.endpoint.request('GET', path, need);
  if (res.status === 401 || res.status === 403) throw await client.endpoint.error(res, `GET ${url.origin}${path.split('?')[0]}`, need);
  if (res.status !== 200) {
    await discard(res);
    throw new Error(`${url.origin} answered ${res.status} to ${path.split('?')[0]}; is it a kura server?`);
  }
  return JSON.parse(await bodyText(res, 256 << 20)) as T;
}
