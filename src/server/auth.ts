/** Authentication for `kura serve` from the configuration: htpasswd, accounts, the token service, lockout. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AccountSource } from '../auth/authenticator.js';
import type { ServeConfig } from '../config/schema.js';
import type { AuthConfig } from '../http/auth.js';

/**
 * Authentication from the config; null when neither htpasswd nor the token service is configured. `now` is
 * the clock tokens, the htpasswd re-read and the lockout go by (Date.now unless a test injects one).
 */
export async function authFromConfig(
  config: ServeConfig,
  dataDir: string | undefined,
  accounts: AccountSource | null = null,
  now?: () => number,
): Promise<AuthConfig | null> {
  const a = config.auth;
  if (!a.htpasswd && !a.token.enabled && !a.accounts) return null;
  // Loaded only with authentication on: jose and bcrypt cost ~14 MB of RSS an open registry never uses.
  const [{ AccessPolicy }, { Authenticator }, { Htpasswd }, { TokenService }, { FailureThrottle }] = await Promise.all([
    import('../auth/access.js'),
    import('../auth/authenticator.js'),
    import('../auth/htpasswd.js'),
    import('../auth/tokens.js'),
    import('../auth/throttle.js'),
  ]);
  const htpasswd = a.htpasswd ? new Htpasswd(resolve(a.htpasswd), { now }) : null;
  if (a.token.enabled && dataDir === undefined)
    throw new Error('the token service keeps its signing key in the data directory: give the server one (data)');
  const tokens = a.token.enabled
    ? await TokenService.open(join(dataDir!, 'auth', 'token-key.json'), {
        issuer: 'kura',
        service: a.token.service,
        expirySeconds: Math.max(1, Math.round(a.token.expiry / 1000)),
        rotateAfterMs: a.token.rotate > 0 ? a.token.rotate : undefined,
        now,
        trust: a.token.trust.map((t) => {
          if (!t.publicKeyFile === !t.jwksFile) {
            throw new Error(`auth.token.trust for ${t.issuer}: give either publicKeyFile or jwksFile`);
          }
          return {
            issuer: t.issuer,
            algorithm: t.algorithm,
            publicKeyPem: t.publicKeyFile ? readFileSync(t.publicKeyFile, 'utf8') : undefined,
            jwks: t.jwksFile ? (JSON.parse(readFileSync(t.jwksFile, 'utf8')) as { keys: [] }) : undefined,
          };
        }),
      })
    : null;
  const throttle = new FailureThrottle(
    { failures: a.lockout.failures, windowMs: a.lockout.window, maxLockMs: a.lockout.max },
    now,
  );
  const policy = new AccessPolicy(a.rules, a.anonymous, a.admins);
  return { authenticator: new Authenticator(htpasswd, accounts, policy), tokens, realm: a.token.realm, throttle };
}
