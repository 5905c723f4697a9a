/** Storing and erasing credentials (kura login/logout): config.json or its credential helper. */
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import {
  credentialKey,
  dockerConfigPath,
  helperFor,
  normalizeServerKey,
  readAuthFile,
  runHelper,
  type AuthFile,
} from './credentials.js';

export interface CredentialStoreOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/** Writes a JSON file atomically (temporary file, then rename), readable by its owner only. */
async function writeAtomic(path: string, doc: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, JSON.stringify(doc, null, '\t') + '\n', { mode: 0o600 });
}

/** The helper config.json names for a registry: its `credHelpers` entry (as lookups find it), else `credsStore`. */
function storeHelper(file: AuthFile, registry: string): string | undefined {
  return helperFor(file, registry) ?? file.credsStore;
}

/** Keys of `auths` that mean this registry (`https://host/v1/`, `host`, `http://host`). */
function keysOf(file: AuthFile, registry: string): string[] {
  return Object.keys(file.auths ?? {}).filter((k) => normalizeServerKey(k) === registry);
}

/**
 * Saves a user and password (or identity token, as user `<token>`) for a registry the way docker
 * login does: through the configured helper, else base64 in config.json `auths`. Every other key of
 * config.json is kept. Returns where they went, for the user.
 */
export async function storeCredentials(
  registry: string,
  username: string,
  secret: string,
  o: CredentialStoreOptions = {},
): Promise<string> {
  const env = o.env ?? process.env;
  const path = dockerConfigPath(env, o.home ?? (env.HOME || homedir()));
  const file = await readAuthFile(path);
  const host = normalizeServerKey(registry);
  const key = credentialKey(host);
  const helper = storeHelper(file, host);
  const auths = { ...(file.auths ?? {}) };
  for (const k of keysOf(file, host)) delete auths[k];
  let where: string;
  if (helper) {
    await runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: secret }), env);
    // docker leaves an empty entry, so that `docker info`-like tools see the login.
    auths[key] = {};
    where = `the credential helper docker-credential-${helper}`;
  } else {
    auths[key] =
      username === '<token>'
        ? { identitytoken: secret }
        : { auth: Buffer.from(`${username}:${secret}`).toString('base64') };
    where = path;
  }
  await writeAtomic(path, { ...file, auths });
  return where;
}

/** Removes a registry's credentials (helper and config.json); false when there were none. */
export async function eraseCredentials(registry: string, o: CredentialStoreOptions = {}): Promise<boolean> {
  const env = o.env ?? process.env;
  const path = dockerConfigPath(env, o.home ?? (env.HOME || homedir()));
  const file = await readAuthFile(path);
  const host = normalizeServerKey(registry);
  const keys = keysOf(file, host);
  let found = keys.length > 0;
  const helper = storeHelper(file, host);
  if (helper) {
    try {
      const out = await runHelper(helper, 'erase', credentialKey(host), env);
      if (out !== null) found = true;
    } catch (e) {
      if (!found) throw e;
    }
  }
  if (keys.length) {
    const auths = { ...(file.auths ?? {}) };
    for (const k of keys) delete auths[k];
    await writeAtomic(path, { ...file, auths });
  }
  return found;
}
