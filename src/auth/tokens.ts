import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  SignJWT,
  createLocalJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  importJWK,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';

/** The `access` claim as the token spec has it; anything else makes the token invalid (401, not a crash). */
const accessSchema = z.array(z.object({ type: z.string(), name: z.string(), actions: z.array(z.string()) }));

/** Tokens of trusted issuers must expire, and within this long of being issued. */
const MAX_EXTERNAL_LIFETIME_S = 24 * 3600;

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
  /** Who issued it: this registry, or a trusted external issuer. */
  issuer: string;
}

/** An identity system whose tokens Kura accepts: its issuer name and a PEM public key or a JWKS document. */
export interface TrustedIssuer {
  issuer: string;
  publicKeyPem?: string;
  jwks?: { keys: JWK[] };
  /** Algorithm of a PEM key (default RS256). */
  algorithm?: string;
}

type StoredKey = JWK & { kid: string; createdAt: number };

/**
 * The built-in token service: ES256 JWTs with `access` claims (docker's token flow). Signing keys
 * live (0600) in the data directory, so tokens survive restarts. With `rotateAfterMs`, a key older
 * than that is replaced at start; the previous one keeps verifying the tokens it signed until they
 * expire. Tokens from trusted external issuers are accepted too.
 */
export class TokenService {
  private constructor(
    private readonly signer: { key: CryptoKey; kid: string },
    private readonly verifiers: Map<string, CryptoKey>,
    private readonly trusted: Map<string, { key: CryptoKey | JWTVerifyGetKey; algorithms: string[] }>,
    readonly issuer: string,
    readonly service: string,
    readonly expirySeconds: number,
    /** The clock tokens are issued and checked by (Date.now unless a test injects one). */
    private readonly now: () => number = Date.now,
  ) {}

  /** Now in whole seconds, as JWT times are. */
  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Our verification key for a token's `kid` (current or rotated-out). */
  private readonly ownKey = async (header: { kid?: string }): Promise<CryptoKey> => {
    const key = header.kid ? this.verifiers.get(header.kid) : undefined;
    if (!key) throw new Error('unknown key');
    return key;
  };

  get kid(): string {
    return this.signer.kid;
  }

  static async open(
    keyFile: string,
    opts: {
      issuer: string;
      service: string;
      expirySeconds: number;
      rotateAfterMs?: number;
      trust?: TrustedIssuer[];
      /** The clock tokens are issued, checked and keys rotated by; Date.now unless a test injects one. */
      now?: () => number;
    },
  ): Promise<TokenService> {
    let keys: StoredKey[] = [];
    try {
      const doc = JSON.parse(readFileSync(keyFile, 'utf8'));
      keys = Array.isArray(doc.keys) ? doc.keys : [{ ...doc, createdAt: doc.createdAt ?? 0 }];
    } catch {
      keys = [];
    }
    const now = (opts.now ?? Date.now)();
    const newest = keys[0];
    if (!newest || (opts.rotateAfterMs !== undefined && now - newest.createdAt >= opts.rotateAfterMs)) {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      keys.unshift({ ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256', createdAt: now });
      // Old keys verify what they signed until those tokens expire; after that they are dropped.
      keys = keys.filter(
        (k, i) => i === 0 || now - k.createdAt < (opts.rotateAfterMs ?? Infinity) + opts.expirySeconds * 1000 * 2,
      );
      // Rotated-out keys only verify: their private part is not kept.
      keys = keys.map((k, i) => {
        if (i === 0) return k;
        const { d: _d, ...pub } = k;
        return pub as StoredKey;
      });
      mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
      writeFileSync(keyFile + '.tmp', JSON.stringify({ keys }), { mode: 0o600 });
      renameSync(keyFile + '.tmp', keyFile);
    }
    const verifiers = new Map<string, CryptoKey>();
    for (const k of keys) {
      const { d: _d, createdAt: _c, ...pub } = k;
      verifiers.set(k.kid, (await importJWK(pub, 'ES256')) as CryptoKey);
    }
    const { createdAt: _c, ...signing } = keys[0]!;
    const signer = { key: (await importJWK(signing, 'ES256')) as CryptoKey, kid: keys[0]!.kid };
    const trusted = new Map<string, { key: CryptoKey | JWTVerifyGetKey; algorithms: string[] }>();
    for (const t of opts.trust ?? []) {
      if (t.jwks)
        trusted.set(t.issuer, {
          key: createLocalJWKSet(t.jwks),
          algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'EdDSA'],
        });
      else if (t.publicKeyPem) {
        const alg = t.algorithm ?? 'RS256';
        trusted.set(t.issuer, { key: (await importSPKI(t.publicKeyPem, alg)) as CryptoKey, algorithms: [alg] });
      }
    }
    return new TokenService(signer, verifiers, trusted, opts.issuer, opts.service, opts.expirySeconds, opts.now);
  }

  async issue(
    sub: string | null,
    access: AccessClaim[],
  ): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const now = this.seconds();
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', kid: this.signer.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.service)
      .setSubject(sub ?? '')
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + this.expirySeconds)
      .setJti(randomUUID())
      .sign(this.signer.key);
    return { token, expiresIn: this.expirySeconds, issuedAt: new Date(now * 1000).toISOString() };
  }

  /**
   * A long-lived refresh token (docker's "identity token"): names its subject and the version of its
   * credential (`cv`, see Authenticator.credentialVersion), grants nothing by itself.
   */
  async issueRefresh(sub: string, credentialVersion: string, lifetimeSeconds = 30 * 86_400): Promise<string> {
    const now = this.seconds();
    return new SignJWT({ typ: 'refresh', cv: credentialVersion })
      .setProtectedHeader({ alg: 'ES256', kid: this.signer.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(`${this.service}#refresh`)
      .setSubject(sub)
      .setIssuedAt(now)
      .setExpirationTime(now + lifetimeSeconds)
      .setJti(randomUUID())
      .sign(this.signer.key);
  }

  /** The subject and credential version of a valid refresh token of ours, or null. */
  async verifyRefresh(token: string): Promise<{ sub: string; cv: string } | null> {
    try {
      const { payload } = await jwtVerify(token, this.ownKey, {
        issuer: this.issuer,
        audience: `${this.service}#refresh`,
        algorithms: ['ES256'],
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(this.now()),
      });
      return payload.typ === 'refresh' && payload.sub && typeof payload.cv === 'string'
        ? { sub: payload.sub, cv: payload.cv }
        : null;
    } catch {
      return null;
    }
  }

  /**
   * The claims of a valid token (ours, or a trusted issuer's), or null: bad signature, expired, unknown issuer or
   * audience.
   */
  async verify(token: string): Promise<TokenClaims | null> {
    try {
      const iss = decodeJwt(token).iss;
      let payload;
      if (iss === this.issuer) {
        ({ payload } = await jwtVerify(token, this.ownKey, {
          issuer: this.issuer,
          audience: this.service,
          algorithms: ['ES256'],
          requiredClaims: ['exp'],
          currentDate: new Date(this.now()),
        }));
      } else {
        const t = iss ? this.trusted.get(iss) : undefined;
        if (!t) return null;
        ({ payload } = await jwtVerify(token, t.key as CryptoKey, {
          issuer: iss,
          audience: this.service,
          algorithms: t.algorithms,
          requiredClaims: ['exp'],
          currentDate: new Date(this.now()),
        }));
        const from = payload.iat ?? this.seconds();
        if (payload.exp! - from > MAX_EXTERNAL_LIFETIME_S) return null;
      }
      if (payload.typ === 'refresh') return null;
      const access = payload.access === undefined ? [] : accessSchema.safeParse(payload.access);
      if (!Array.isArray(access) && !access.success) return null;
      const claims = (Array.isArray(access) ? access : access.data) as AccessClaim[];
      return { sub: payload.sub ? payload.sub : null, access: claims, exp: payload.exp!, issuer: payload.iss ?? '' };
    } catch {
      return null;
    }
  }
}
