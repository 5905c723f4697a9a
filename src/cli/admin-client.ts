import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ServeConfig } from '../config/schema.js';
import { DataDirInUseError, openEmbeddedRegistry, SERVER_FILE } from '../http/server.js';
import type { Registry } from '../registry/registry.js';
import { Keychain } from '../transports/credentials.js';
import { parseCreds } from './locations.js';

/** Options every maintenance command takes to reach a running server. */
export interface ServerOptions {
  server?: string;
  creds?: string;
}

/** One call of a running server's admin API: JSON in the answer, or an error naming the server and its reason. */
export type AdminCall = <T>(method: 'GET' | 'POST', path: string) => Promise<T>;

async function authorization(server: URL, creds: string | undefined): Promise<string | undefined> {
  const given = parseCreds(creds);
  const c = given ?? (await new Keychain().resolve(server.host));
  if (!c?.username || c.password === undefined) return undefined;
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}

function adminCall(base: string, creds: string | undefined): AdminCall {
  const server = new URL(base);
  return async <T>(method: 'GET' | 'POST', path: string): Promise<T> => {
    const auth = await authorization(server, creds);
    const res = await fetch(new URL(path, server), { method, headers: auth ? { authorization: auth } : {} });
    const text = await res.text();
    if (!res.ok) {
      let reason = text.slice(0, 300);
      try {
        reason = (JSON.parse(text) as { errors?: { message?: string }[] }).errors?.[0]?.message ?? reason;
      } catch {
        // not JSON: keep the text
      }
      throw new Error(`${server.origin} answered ${res.status} to ${path.split('?')[0]}: ${reason}`);
    }
    return JSON.parse(text) as T;
  };
}

/**
 * Runs a maintenance command on the store itself when no server holds it, else through the admin
 * API of the server: the one named by --server, or the one running on the data directory (found by
 * the URL it leaves there). `where` names what was worked on, for the command's summary line.
 */
export async function onStoreOrServer<T>(
  config: ServeConfig,
  opts: ServerOptions,
  local: (registry: Registry) => Promise<T>,
  remote: (call: AdminCall) => Promise<T>,
): Promise<{ result: T; where: string; remote: boolean }> {
  if (opts.server) return { result: await remote(adminCall(opts.server, opts.creds)), where: opts.server, remote: true };
  let opened;
  try {
    opened = openEmbeddedRegistry(config);
  } catch (e) {
    if (!(e instanceof DataDirInUseError)) throw e;
    const url = runningServer(e.dataDir);
    if (!url) throw new Error(`${e.message} (and it left no ${SERVER_FILE}: pass --server URL)`);
    return { result: await remote(adminCall(url, opts.creds)), where: e.dataDir, remote: true };
  }
  try {
    return { result: await local(opened.registry), where: opened.dataDir, remote: false };
  } finally {
    await opened.registry.close();
  }
}

/**
 * The store of a data directory no server holds, or else the URL of the server running on it
 * (for commands that have their own --server code path).
 */
export function openOrFindServer(config: ServeConfig): { registry: Registry } | { server: string } {
  try {
    return { registry: openEmbeddedRegistry(config).registry };
  } catch (e) {
    if (!(e instanceof DataDirInUseError)) throw e;
    const url = runningServer(e.dataDir);
    if (!url) throw new Error(`${e.message} (and it left no ${SERVER_FILE}: pass --server URL)`);
    return { server: url };
  }
}

/** The URL a running server left in its data directory, or null. */
export function runningServer(dataDir: string): string | null {
  try {
    const doc = JSON.parse(readFileSync(join(resolve(dataDir), SERVER_FILE), 'utf8')) as { url?: unknown };
    return typeof doc.url === 'string' ? doc.url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:') : null;
  } catch {
    return null;
  }
}
