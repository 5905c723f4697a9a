import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK, type CryptoKey } from 'jose';
import type { Action } from './access.js';

/** One `access` claim entry of the Docker registry token spec. */
export interface AccessClaim {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

export interface TokenClaims {
  sub: string | null;
  access: AccessClaim[];
  exp: number;
}

/**
 * The built-in token service: ES256 JWTs with `access` claims (docker's token flow). The signing key
 * is made once and kept (0600) in the data directory, so tokens survive restarts.
 */
export class TokenService {
  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
    readonly kid: string,
    readonly issuer: string,
    readonly service: string,
    readonly expirySeconds: number,
  ) {}

  static async open(keyFile: string, opts: { issuer: string; service: string; expirySeconds: number }): Promise<TokenService> {
    let jwk: JWK & { kid: string };
    try {
      jwk = JSON.parse(readFileSync(keyFile, 'utf8'));
    } catch {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256' };
      mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
      writeFileSync(keyFile + '.tmp', JSON.stringify(jwk), { mode: 0o600 });
      renameSync(keyFile + '.tmp', keyFile);
    }
    const privateKey = (await importJWK(jwk, 'ES256')) as CryptoKey;
    const { d: _d, ...pub } = jwk;
    const publicKey = (await importJWK(pub, 'ES256')) as CryptoKey;
    return new TokenService(privateKey, publicKey, jwk.kid, opts.issuer, opts.service, opts.expirySeconds);
  }

  async issue(sub: string | null, access: AccessClaim[]): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', kid: this.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.service)
      .setSubject(sub ?? '')
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + this.expirySeconds)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, expiresIn: this.expirySeconds, issuedAt: new Date(now * 1000).toISOString() };
  }

  /** The claims of a valid token of ours, or null (bad signature, expired, other issuer or audience). */
  async verify(token: string): Promise<TokenClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, { issuer: this.issuer, audience: this.service, algorithms: ['ES256'] });
      const access = Array.isArray(payload.access) ? (payload.access as AccessClaim[]) : [];
      return { sub: payload.sub ? payload.sub : null, access, exp: payload.exp ?? 0 };
    } catch {
      return null;
    }
  }
}

/** Parses `repository:team/app:pull,push` scopes (docker may send several, space-separated). */
export function parseScopes(scopes: string[]): { type: string; name: string; actions: Action[] }[] {
  const out: { type: string; name: string; actions: Action[] }[] = [];
  for (const s of scopes.flatMap((x) => x.split(' ')).filter(Boolean)) {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    out.push({
      type: s.slice(0, first),
      name: s.slice(first + 1, last),
      actions: s
        .slice(last + 1)
        .split(',')
        .map((a) => (a === '*' ? 'admin' : a))
        .filter((a): a is Action => ['pull', 'push', 'delete', 'admin'].includes(a)),
    });
  }
  return out;
}
