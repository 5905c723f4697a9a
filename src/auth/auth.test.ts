import assert from 'node:assert/strict';
import { writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { decodeJwt } from 'jose';
import { AccessPolicy, parseScopes } from './access.js';
import { Authenticator } from './authenticator.js';
import { Htpasswd } from './htpasswd.js';
import { bcryptCost, dummyHash, PasswordVerifier, VerifierBusyError } from './passwords.js';
import { FailureThrottle } from './throttle.js';
import { TokenService } from './tokens.js';
import { tempDir } from '../test/tempdirs.js';
import { testClock } from '../test/helpers.js';

test(
  'access rules: anonymous only what is granted, admin implies all, no rules means pull/push/delete but no ' + 'admin',
  () => {
    const p = new AccessPolicy(
      [
        { users: ['alice'], repositories: ['team/**'], actions: ['pull', 'push'] },
        { users: ['ci-*'], repositories: ['**'], actions: ['pull'] },
        { users: ['root'], repositories: ['**'], actions: ['admin'] },
      ],
      [{ repositories: ['public/**'], actions: ['pull'] }],
    );
    assert.equal(p.allows(null, 'public/x', 'pull'), true);
    assert.equal(p.allows(null, 'public/x', 'push'), false);
    assert.equal(p.allows(null, 'team/x', 'pull'), false);
    assert.equal(p.allows('alice', 'team/a/b', 'push'), true);
    assert.equal(p.allows('alice', 'team/a', 'delete'), false);
    assert.equal(p.allows('alice', 'other/a', 'pull'), false);
    assert.equal(p.allows('ci-7', 'anything/here', 'pull'), true);
    assert.equal(p.allows('ci-7', 'anything/here', 'push'), false);
    assert.equal(p.allows('root', 'x', 'delete'), true);
    assert.deepEqual(p.granted('alice', 'team/a', ['pull', 'push', 'delete']), ['pull', 'push']);
    const open = new AccessPolicy([], []);
    assert.equal(open.allows('anyone', 'x/y', 'delete'), true);
    assert.equal(open.allows('anyone', 'x/y', 'admin'), false, 'no rules: nobody is an admin (security audit M3)');
    assert.equal(open.isGlobalAdmin('anyone'), false);
    assert.equal(open.allows(null, 'x/y', 'pull'), false);
    assert.equal(new AccessPolicy([], [], ['ops']).isGlobalAdmin('ops'), true, 'auth.admins');
  },
);

test(
  'global admin is explicit: admin on exactly "**", never a glob that happens to match "**" (security audit ' + 'M2)',
  () => {
    const p = new AccessPolicy(
      [
        { users: ['root'], repositories: ['**'], actions: ['admin'] },
        { users: ['dave'], repositories: ['*'], actions: ['admin'] },
        { users: ['team-admin'], repositories: ['team/**'], actions: ['admin'] },
        { users: ['puller'], repositories: ['**'], actions: ['pull'] },
      ],
      [{ repositories: ['public/**'], actions: ['pull'] }],
    );
    assert.equal(p.isGlobalAdmin('root'), true);
    assert.equal(p.isGlobalAdmin('dave'), false, '"*" covers top-level repositories only');
    assert.equal(p.allows('dave', 'top', 'delete'), true);
    assert.equal(p.isGlobalAdmin('team-admin'), false);
    assert.equal(p.isGlobalAdmin('puller'), false);
    assert.equal(p.isGlobalAdmin(null), false);
    assert.equal(p.allows('team-admin', 'public/x', 'pull'), true, 'signed-in users keep the anonymous rights (I2)');
  },
);

test('scopes parse as docker sends them', () => {
  assert.deepEqual(parseScopes(['repository:team/app:pull,push', 'repository:a/b:pull registry:catalog:*']), [
    { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
    { type: 'repository', name: 'a/b', actions: ['pull'] },
    { type: 'registry', name: 'catalog', actions: ['admin'] },
  ]);
  assert.deepEqual(parseScopes(['garbage', 'repository:host:5000/x:pull']), [
    { type: 'repository', name: 'host:5000/x', actions: ['pull'] },
  ]);
});

test(
  'htpasswd: bcrypt entries only, wrong passwords and unknown users refused, reloaded when the file ' + 'changes',
  async () => {
    const dir = tempDir('kura-htpasswd-');
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `alice:${bcrypt.hashSync('wonderland', 4)}\nmd5user:$apr1$abc$def\n# comment\n`);
    let time = Date.now();
    const h = new Htpasswd(file, { now: () => time });
    const auth = new Authenticator(h, null, new AccessPolicy([], []), new PasswordVerifier({ cacheMs: 0 }));
    try {
      assert.equal((await auth.login('alice', 'wonderland'))?.name, 'alice');
      assert.equal(await auth.login('alice', 'wrong'), null);
      assert.equal(await auth.login('nobody', 'wonderland'), null);
      assert.equal(h.has('md5user'), false);
      assert.match(h.warnings[0]!, /htpasswd:2: not a bcrypt entry/);
      writeFileSync(file, `bob:${bcrypt.hashSync('builder', 4)}\n`);
      utimesSync(file, new Date(), new Date(Date.now() + 5000));
      // Within the second after the last check the file is not looked at again; after it, it is.
      assert.equal((await auth.byName('alice'))?.name, 'alice', 'not re-read within a second');
      time += 1100;
      // A lookup without a password (token subjects) sees the change too (security audit L1).
      assert.equal(await auth.byName('alice'), null);
      assert.equal((await auth.login('bob', 'builder'))?.name, 'bob');
      assert.equal(await auth.login('alice', 'wonderland'), null);
    } finally {
      await auth.close();
    }
  },
);

test('tokens: signed with a key kept across restarts; tampered, foreign and expired tokens are refused', async () => {
  const dir = tempDir('kura-tokens-');
  const key = join(dir, 'auth', 'token-key.json');
  // On a whole second, so that 900 ms later the token (1 s lifetime) is still in its second.
  let time = Math.floor(Date.now() / 1000) * 1000;
  const now = () => time;
  const svc = await TokenService.open(key, { issuer: 'kura', service: 'kura', expirySeconds: 1, now });
  const { token } = await svc.issue('alice', [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
  assert.deepEqual((await svc.verify(token))?.access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
  assert.equal(decodeJwt(token).sub, 'alice');
  const again = await TokenService.open(key, { issuer: 'kura', service: 'kura', expirySeconds: 1, now });
  assert.notEqual(await again.verify(token), null, 'the key survives a restart');
  const other = await TokenService.open(join(dir, 'other.json'), {
    issuer: 'kura',
    service: 'kura',
    expirySeconds: 60,
    now,
  });
  assert.equal(await other.verify(token), null, 'another key does not verify it');
  const wrongAudience = await TokenService.open(key, { issuer: 'kura', service: 'elsewhere', expirySeconds: 60, now });
  assert.equal(await wrongAudience.verify(token), null);
  const [h, p, sig] = token.split('.');
  const forged = Buffer.from(
    JSON.stringify({ ...decodeJwt(token), access: [{ type: 'repository', name: 'team/app', actions: ['push'] }] }),
  ).toString('base64url');
  assert.equal(await svc.verify(`${h}.${forged}.${sig}`), null);
  assert.equal(p!.length > 0, true);
  time += 900;
  assert.notEqual(await svc.verify(token), null, 'still valid within its second');
  time += 1200;
  assert.equal(await svc.verify(token), null, 'expired');
});

test(
  'key rotation: a new signing key at start, old tokens still verify; tokens of trusted external issuers ' + 'accepted',
  async () => {
    const { SignJWT, exportJWK, exportSPKI, generateKeyPair } = await import('jose');
    const dir = tempDir('kura-rotate-');
    const key = join(dir, 'keys.json');
    // The services' clock: the key ages past rotateAfterMs when the test moves it, not after a real wait.
    const clock = testClock();
    const first = await TokenService.open(key, {
      issuer: 'kura',
      service: 'kura',
      expirySeconds: 300,
      rotateAfterMs: 50,
      now: clock.now,
    });
    const old = (await first.issue('alice', [])).token;
    clock.advance(60);
    const second = await TokenService.open(key, {
      issuer: 'kura',
      service: 'kura',
      expirySeconds: 300,
      rotateAfterMs: 50,
      now: clock.now,
    });
    assert.notEqual(second.kid, first.kid, 'rotated');
    assert.equal((await second.verify(old))?.sub, 'alice', 'a token of the previous key still verifies');
    assert.equal(decodeJwt((await second.issue('bob', [])).token).sub, 'bob');

    const corp = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(corp.publicKey)), kid: 'corp-1', alg: 'RS256' };
    const other = await generateKeyPair('RS256', { extractable: true });
    const pem = await exportSPKI(other.publicKey);
    const svc = await TokenService.open(join(dir, 'k2.json'), {
      issuer: 'kura',
      service: 'kura',
      expirySeconds: 60,
      trust: [
        { issuer: 'https://sso.corp', jwks: { keys: [jwk] } },
        { issuer: 'pem-issuer', publicKeyPem: pem },
      ],
    });
    const sign = (iss: string, k: CryptoKey, kid?: string, aud = 'kura') =>
      new SignJWT({ access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] })
        .setProtectedHeader({ alg: 'RS256', ...(kid ? { kid } : {}) })
        .setIssuer(iss)
        .setAudience(aud)
        .setSubject('carol')
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(k);
    const ok = await svc.verify(await sign('https://sso.corp', corp.privateKey, 'corp-1'));
    assert.deepEqual(ok && { sub: ok.sub, issuer: ok.issuer, n: ok.access.length }, {
      sub: 'carol',
      issuer: 'https://sso.corp',
      n: 1,
    });
    assert.notEqual(await svc.verify(await sign('pem-issuer', other.privateKey)), null);
    assert.equal(await svc.verify(await sign('https://sso.corp', other.privateKey, 'corp-1')), null, 'wrong key');
    assert.equal(await svc.verify(await sign('https://unknown', corp.privateKey, 'corp-1')), null, 'untrusted issuer');
    assert.equal(
      await svc.verify(await sign('https://sso.corp', corp.privateKey, 'corp-1', 'another-service')),
      null,
      'wrong audience',
    );
  },
);

test('rotated-out signing keys are kept without their private part (security audit I5)', async () => {
  const { readFileSync } = await import('node:fs');
  const dir = tempDir('kura-rotate-d-');
  const key = join(dir, 'keys.json');
  const clock = testClock();
  const opts = { issuer: 'kura', service: 'kura', expirySeconds: 300, rotateAfterMs: 10, now: clock.now };
  await TokenService.open(key, opts);
  clock.advance(20);
  await TokenService.open(key, opts);
  const keys = JSON.parse(readFileSync(key, 'utf8')).keys as { d?: string }[];
  assert.equal(keys.length, 2);
  assert.ok(keys[0]!.d, 'the signing key has its private part');
  assert.equal(keys[1]!.d, undefined, 'the old one only verifies');
});

test('refresh tokens carry the credential version they were issued for (security audit M4)', async () => {
  const svc = await TokenService.open(join(tempDir('kura-refresh-'), 'k.json'), {
    issuer: 'kura',
    service: 'kura',
    expirySeconds: 60,
  });
  const r = await svc.issueRefresh('alice', 'v1');
  assert.deepEqual(await svc.verifyRefresh(r), { sub: 'alice', cv: 'v1' });
  assert.equal(await svc.verify(r), null, 'a refresh token is no access token');
});

test(
  'lockout: failures per key lock it, each further lock twice as long, up to the maximum (security audit ' + 'M7)',
  () => {
    let now = 0;
    const t = new FailureThrottle({ failures: 3, windowMs: 1000, maxLockMs: 3000 }, () => now);
    const keys = ['addr:1', 'user:a'];
    t.fail(keys);
    t.fail(keys);
    assert.equal(t.retryAfterMs(keys), 0);
    t.fail(keys);
    assert.equal(t.retryAfterMs(keys), 1000);
    assert.equal(t.retryAfterMs(['addr:2']), 0, 'other addresses are not locked');
    now = 1000;
    assert.equal(t.retryAfterMs(keys), 0);
    for (let i = 0; i < 3; i++) t.fail(['addr:1']);
    assert.equal(t.retryAfterMs(['addr:1']), 2000, 'the second lock lasts twice as long');
    now = 3000;
    for (let i = 0; i < 3; i++) t.fail(['addr:1']);
    assert.equal(t.retryAfterMs(['addr:1']), 3000, 'capped at the maximum');
    assert.equal(new FailureThrottle({ failures: 0, windowMs: 1000, maxLockMs: 1000 }).retryAfterMs(keys), 0);
  },
);

test(
  'passwords: a dummy hash has the cost it is asked for; a full queue is refused, not queued without end (M6, ' + 'M8)',
  async () => {
    assert.equal(bcryptCost(dummyHash(12)), 12);
    assert.equal(await bcrypt.compare('anything', dummyHash(4)), false);
    const v = new PasswordVerifier({ threads: 1, maxQueue: 2, cacheMs: 60_000 });
    try {
      const hash = bcrypt.hashSync('right', 10);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => v.compare('wrong', hash)));
      assert.ok(
        results.some((r) => r.status === 'rejected' && r.reason instanceof VerifierBusyError),
        'some checks were refused',
      );
      assert.ok(results.some((r) => r.status === 'fulfilled' && r.value === false));
      assert.equal(await v.compare('right', hash), true);
      const t = Date.now();
      assert.equal(await v.compare('right', hash), true, 'cached');
      assert.ok(Date.now() - t < 20, 'a remembered success costs no bcrypt');
      assert.equal(await v.compare('wrong', hash), false, 'failures are never remembered');
    } finally {
      await v.close();
    }
  },
);
