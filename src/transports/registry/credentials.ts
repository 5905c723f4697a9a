/** The keychain: credentials from docker's config.json, containers' auth.json and credential helpers. */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What a registry may be sent: a user and password, an identity (refresh) token, or a bearer token. */
export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (config.json `identitytoken`, or a helper's `<token>` user). */
  identityToken?: string;
  /** A bearer token sent as it is (config.json `registrytoken`). */
  registryToken?: string;
}

/** Where credentials are looked up; `env` and `home` default to the process's. */
export interface KeychainOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Kill a credential helper that takes longer (default 60 s). */
  helperTimeoutMs?: number;
}

/** Docker Hub's key in config.json and for helpers. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** The key a registry is stored under: Docker Hub's legacy URL, else the host. */
export function credentialKey(registry: string): string {
  return registry === 'docker.io' ? DOCKER_HUB_KEY : registry;
}

/**
 * A config.json / auth.json key as `host[/namespace]`: scheme, `/v1/`-style suffix dropped; Hub aliases → docker.io.
 */
export function normalizeServerKey(key: string): string {
  let k = key
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/+$/, '');
  k = k.replace(/\/v[12]$/, '');
  const slash = k.indexOf('/');
  const host = (slash < 0 ? k : k.slice(0, slash)).toLowerCase();
  const rest = slash < 0 ? '' : k.slice(slash);
  const hub = host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'registry.hub.docker.com';
  return (hub ? 'docker.io' : host) + rest;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** A docker config.json or containers auth.json, as far as credentials go. */
export interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [other: string]: unknown;
}

/** The docker config file: `$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env, home = env.HOME || homedir()): string {
  return join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json');
}

/** The files searched, in order, as containers-auth.json(5) reads them, then docker's. */
export function authFiles(
  env: NodeJS.ProcessEnv = process.env,
  home = env.HOME || homedir(),
): { path: string; legacy?: boolean }[] {
  const out: { path: string; legacy?: boolean }[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push({ path: env.REGISTRY_AUTH_FILE });
  if (env.XDG_RUNTIME_DIR) out.push({ path: join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') });
  out.push({ path: join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'auth.json') });
  out.push({ path: dockerConfigPath(env, home) });
  out.push({ path: join(home, '.dockercfg'), legacy: true });
  return out;
}

/** Reads a credentials file; a missing file is empty, a broken one an error naming it. */
export async function readAuthFile(path: string, legacy = false): Promise<AuthFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return {};
    throw e;
  }
  try {
    const doc = (text.trim() ? JSON.parse(text) : {}) as AuthFile;
    return legacy ? { auths: doc as unknown as Record<string, AuthEntry> } : doc;
  } catch (e) {
    throw new Error(`${path} is not valid JSON (${(e as Error).message}); fix or remove it`);
  }
}

function fromEntry(e: AuthEntry | undefined): Credentials | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const c: Credentials = {};
  if (e.auth) {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i >= 0) Object.assign(c, { username: plain.slice(0, i), password: plain.slice(i + 1) });
  }
  if (e.username) c.username = e.username;
  if (e.password) c.password = e.password;
  if (e.identitytoken) c.identityToken = e.identitytoken;
  if (e.registrytoken) c.registryToken = e.registrytoken;
  return Object.keys(c).length ? c : undefined;
}

/** Keys to try for a repository, most specific first: `host/a/b`, `host/a`, `host`. */
function candidates(registry: string, repository?: string): string[] {
  const out = [registry];
  const parts = repository ? repository.split('/') : [];
  for (let i = 1; i <= parts.length; i++) out.unshift(`${registry}/${parts.slice(0, i).join('/')}`);
  return out;
}

/** The credentials of a file's `auths` for a registry and repository, namespaces most specific first. */
export function lookupAuths(file: AuthFile, registry: string, repository?: string): Credentials | undefined {
  const byKey = new Map<string, AuthEntry>();
  for (const [k, v] of Object.entries(file.auths ?? {})) {
    const n = normalizeServerKey(k);
    if (!byKey.has(n) || fromEntry(v)) byKey.set(n, v);
  }
  for (const c of candidates(registry, repository)) {
    const found = fromEntry(byKey.get(c));
    if (found) return found;
  }
  return undefined;
}

/**
 * The `credHelpers` entry for a registry (a normalised name, `docker.io` for Docker Hub): its host key,
 * and for Docker Hub also its legacy key `https://index.docker.io/v1/`, as docker writes it.
 */
export function helperFor(file: AuthFile, registry: string): string | undefined {
  return file.credHelpers?.[registry] ?? (registry === 'docker.io' ? file.credHelpers?.[DOCKER_HUB_KEY] : undefined);
}

/** Runs `docker-credential-<suffix> <action>` with `input` on stdin; resolves with stdout, or null for "not found". */
export function runHelper(
  suffix: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 60_000,
): Promise<string | null> {
  const bin = `docker-credential-${suffix}`;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [action], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    // Our own timer: spawn's `timeout` outlives a helper that never started.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    timer.unref();
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          e.code === 'ENOENT'
            ? `the credential helper ${bin} is not on PATH; install it or remove it from the docker config`
            : `${bin} ${action}: ${e.message}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(out);
      if (/credentials not found|not found in native keychain/i.test(`${out} ${err}`)) return resolve(null);
      // Never echo stdout (it carries secrets), and of stderr only the start of its first line.
      const why = err.trim().split('\n')[0]!.slice(0, 120);
      reject(new Error(`${bin} ${action} failed (${signal ?? `exit ${code}`})${why ? `: ${why}` : ''}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Credentials from a helper (`get`), or undefined when it has none. */
export async function helperGet(
  suffix: string,
  registry: string,
  env?: NodeJS.ProcessEnv,
  timeoutMs?: number,
): Promise<Credentials | undefined> {
  const out = await runHelper(suffix, 'get', credentialKey(registry), env, timeoutMs);
  if (out === null) return undefined;
  let doc: { Username?: string; Secret?: string };
  try {
    doc = JSON.parse(out) as typeof doc;
  } catch {
    throw new Error(`docker-credential-${suffix} get printed something that is not JSON`);
  }
  if (!doc.Username && !doc.Secret) return undefined;
  if (doc.Username === '<token>') return { identityToken: doc.Secret ?? '' };
  return { username: doc.Username ?? '', password: doc.Secret ?? '' };
}

/**
 * Resolves credentials for a registry (and repository) like docker and containers-auth.json(5):
 * `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json`,
 * `$DOCKER_CONFIG/config.json`, `~/.dockercfg`; in each, `credHelpers[host]`, then `credsStore`, then `auths`.
 */
export class Keychain {
  private readonly env: NodeJS.ProcessEnv;
  private readonly home: string;
  private readonly cache = new Map<string, Promise<Credentials | undefined>>();

  constructor(private readonly opts: KeychainOptions = {}) {
    this.env = opts.env ?? process.env;
    this.home = opts.home ?? (this.env.HOME || homedir());
  }

  /** Credentials for `registry` (`docker.io`, `host:port`), or undefined for anonymous access. */
  resolve(registry: string, repository?: string): Promise<Credentials | undefined> {
    const key = `${registry}/${repository ?? ''}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.lookup(normalizeServerKey(registry), repository);
      this.cache.set(key, hit);
    }
    return hit;
  }

  private async lookup(registry: string, repository?: string): Promise<Credentials | undefined> {
    for (const f of authFiles(this.env, this.home)) {
      const file = await readAuthFile(f.path, f.legacy);
      const helper = helperFor(file, registry);
      if (helper) {
        const c = await helperGet(helper, registry, this.env, this.opts.helperTimeoutMs);
        if (c) return c;
      }
      if (file.credsStore) {
        const c = await helperGet(file.credsStore, registry, this.env, this.opts.helperTimeoutMs);
        if (c) return c;
      }
      const c = lookupAuths(file, registry, repository);
      if (c) return c;
    }
    return undefined;
  }
}
