/** The client side of registry authentication: WWW-Authenticate, Basic, the token flow, scopes. */
import type { Dispatcher } from './http.js';
import type { Credentials } from './credentials.js';
import { bodyText, headerValue, sendWithRetry, type HttpResponse } from './http.js';
import type { RetryOptions } from './retry.js';
import { UnauthorizedError } from './errors.js';

export { UnauthorizedError };

/** One challenge of a WWW-Authenticate header: `Bearer realm="…",service="…",scope="…"`. */
export interface Challenge {
  /** Lower-case: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names lower-case, values unquoted. */
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): several challenges, quoted values that hold commas
 * and escaped quotes.
 */
export function parseWwwAuthenticate(header: string | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  const s = header;
  let i = 0;
  const skip = (re: RegExp) => {
    while (i < s.length && re.test(s[i]!)) i++;
  };
  const token = () => {
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(s.slice(i));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    skip(/[\s,]/);
    const start = i;
    const name = token();
    if (!name) {
      i++;
      continue;
    }
    skip(/\s/);
    if (s[i] === '=' && current && s[i + 1] !== '=') {
      i++;
      skip(/\s/);
      let value = '';
      if (s[i] === '"') {
        for (i++; i < s.length && s[i] !== '"'; i++) value += s[i] === '\\' && i + 1 < s.length ? s[++i] : s[i];
        i++;
      } else value = token();
      current.params[name.toLowerCase()] = value;
    } else if (i > start) {
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

/** What a request needs: token scopes, and the repository whose credentials apply (auth.json namespaces). */
export interface AuthNeed {
  scopes: string[];
  repository?: string;
}

/** How a client authenticates to one registry. */
export interface TokenAuthenticatorOptions {
  /** The name users log in to (`docker.io`, `127.0.0.1:5000`), for messages. */
  registry: string;
  credentials: (repository?: string) => Promise<Credentials | undefined>;
  /** The flag the credentials came from (`--dest-creds`), if they did: errors name it instead of kura login. */
  credentialsFlag?: string;
  dispatcher: Dispatcher;
  retry: Required<RetryOptions>;
  userAgent: string;
  /** Socket inactivity that fails a request (default 60 s; 0: never). */
  idleTimeoutMs?: number;
  /** Cancels every request of the client (the RegistryClient's `signal`). */
  signal?: AbortSignal;
}

/**
 * The error users get when a registry refuses them (`what` says what was tried): the problem, and a
 * credentials hint the caller words (the library names the option, the CLI `kura login`).
 */
export function unauthorizedError(
  status: number,
  registry: string,
  creds: Credentials | undefined,
  flag?: string,
  what?: string,
  repository?: string,
): UnauthorizedError {
  const who = creds?.username && creds.username !== '<token>' ? ` for "${creds.username}"` : '';
  const at = `${what ? `${what}: ` : ''}${status} from ${registry}`;
  // Credentials from a flag are fixed there, not by logging in again.
  const given = flag && creds ? flag : undefined;
  let problem: string;
  let situation: 'missing' | 'refused' | 'forbidden';
  if (status === 403) [problem, situation] = [`${at}: the account${who} may not do this`, 'forbidden'];
  else if (creds && given)
    [problem, situation] = [`${at}: the credentials${who} given with ${given} were refused`, 'refused'];
  else if (creds) [problem, situation] = [`${at}: the credentials${who} were refused`, 'refused'];
  else [problem, situation] = [at, 'missing'];
  return new UnauthorizedError(status, problem, {
    registry,
    repository,
    hint: { option: 'credentials', registry, situation, ...(given ? { flag: given } : {}) },
    ...(situation === 'missing' ? { joiner: ': ' } : {}),
  });
}

/**
 * Authentication against one registry endpoint: learns the scheme from the first 401, then sends
 * Basic credentials or Bearer tokens from the challenge's realm, cached per scope set until they
 * expire (`expires_in`, 60 s by default).
 */
export class TokenAuthenticator {
  private scheme: 'none' | 'basic' | 'bearer' = 'none';
  private params: Record<string, string> = {};
  private readonly tokens = new Map<string, { token: Promise<string>; expires: number }>();

  constructor(private readonly o: TokenAuthenticatorOptions) {}

  /** The Authorization header to send now, from what was learnt so far (none before the first 401). */
  async header(need: AuthNeed): Promise<string | undefined> {
    const creds = await this.o.credentials(need.repository);
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    if (this.scheme === 'basic') return basic(creds);
    if (this.scheme === 'bearer') return `Bearer ${await this.token(need, creds)}`;
    return undefined;
  }

  /**
   * Learns from a 401 and fetches what it asks for; true when a new try is worth it. `sent` is the
   * Authorization we sent; a second 401 for the same need (`already`) means refused: no more tries.
   */
  async unauthorized(res: HttpResponse, need: AuthNeed, already: boolean, sent?: string): Promise<boolean> {
    const challenges = parseWwwAuthenticate(headerValue(res, 'www-authenticate'));
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    const creds = await this.o.credentials(need.repository);
    if (bearer) {
      const wasBearer = this.scheme === 'bearer';
      this.scheme = 'bearer';
      this.params = bearer.params;
      const extra = bearer.params.scope?.split(' ').filter((s) => s && !covered(s, need.scopes)) ?? [];
      // An insufficient_scope naming scopes we did not ask for is worth one more try with them.
      if (already && wasBearer && extra.length === 0) return false;
      if (extra.length) need.scopes.push(...extra);
      const key = scopeKey(need.scopes);
      const cached = this.tokens.get(key);
      // Drop the cached token only if it is the one refused (parallel requests may have a new one already).
      if (cached && sent && sent === `Bearer ${await cached.token.catch(() => '')}`) this.tokens.delete(key);
      await this.token(need, creds);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && creds && (creds.username || creds.password)) {
      if (already && this.scheme === 'basic') return false;
      this.scheme = 'basic';
      return true;
    }
    return false;
  }

  /** The client-wide signal and idle timeout (a token is shared by calls, so no call's own signal). */
  private io(): { signal?: AbortSignal; idleTimeoutMs?: number } {
    return { signal: this.o.signal, idleTimeoutMs: this.o.idleTimeoutMs };
  }

  private token(need: AuthNeed, creds: Credentials | undefined): Promise<string> {
    const key = scopeKey(need.scopes);
    const hit = this.tokens.get(key);
    if (hit && hit.expires > Date.now()) return hit.token;
    const entry = { token: this.fetchToken(need.scopes, creds), expires: Date.now() + 60_000 };
    this.tokens.set(key, entry);
    entry.token.catch(() => this.tokens.delete(key));
    return entry.token;
  }

  private async fetchToken(scopes: string[], creds: Credentials | undefined): Promise<string> {
    const realm = new URL(this.params.realm!);
    const service = this.params.service;
    let res: HttpResponse;
    const headers: Record<string, string> = { 'user-agent': this.o.userAgent };
    if (creds?.identityToken) {
      // OAuth2 refresh-token grant, as docker does with an identity token from `docker login`.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'kura',
      });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      headers['content-type'] = 'application/x-www-form-urlencoded';
      res = await sendWithRetry(
        realm,
        { method: 'POST', headers, body: Buffer.from(form.toString()), ...this.io() },
        this.o.dispatcher,
        this.o.retry,
      );
    } else {
      if (service) realm.searchParams.set('service', service);
      for (const s of scopes) realm.searchParams.append('scope', s);
      const auth = basic(creds);
      if (auth) headers.authorization = auth;
      res = await sendWithRetry(realm, { method: 'GET', headers, ...this.io() }, this.o.dispatcher, this.o.retry);
    }
    const text = await bodyText(res, 1 << 20);
    if (res.status === 401 || res.status === 403)
      throw unauthorizedError(res.status, this.o.registry, creds, this.o.credentialsFlag);
    if (res.status < 200 || res.status > 299) {
      throw new Error(
        `the token service ${realm.origin} of ${this.o.registry} answered ${res.status} ${text.slice(0, 200)}`,
      );
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`the token service ${realm.origin} of ${this.o.registry} sent no JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`the token service ${realm.origin} of ${this.o.registry} answered without a token`);
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    const entry = this.tokens.get(scopeKey(scopes));
    // A little early, so that a token is not sent in its last second.
    if (entry) entry.expires = Date.now() + Math.max(lifetime * 900, lifetime * 1000 - 10_000);
    return token;
  }
}

function basic(creds: Credentials | undefined): string | undefined {
  if (!creds || (creds.username === undefined && creds.password === undefined)) return undefined;
  return 'Basic ' + Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64');
}

/** True when `scope` asks for nothing more than one of `have` grants (same resource, a subset of its actions). */
function covered(scope: string, have: string[]): boolean {
  const split = (s: string) => {
    const i = s.lastIndexOf(':');
    return { resource: s.slice(0, i), actions: new Set(s.slice(i + 1).split(',')) };
  };
  const want = split(scope);
  return have.some((h) => {
    const g = split(h);
    return g.resource === want.resource && (g.actions.has('*') || [...want.actions].every((a) => g.actions.has(a)));
  });
}

function scopeKey(scopes: string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

/** Token scopes for an operation on a repository. */
export const scopes = {
  pull: (repo: string) => [`repository:${repo}:pull`],
  push: (repo: string) => [`repository:${repo}:pull,push`],
  mount: (repo: string, from: string) => [`repository:${repo}:pull,push`, `repository:${from}:pull`],
  delete: (repo: string) => [`repository:${repo}:delete`],
  catalog: () => ['registry:catalog:*'],
};
