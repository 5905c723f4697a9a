import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { digestOf } from '../oci/digest.js';
import { assertError, makeImage, randomBlob, type TestServer, startTestServer } from '../test/testkit.js';
import { basic, testClock } from '../test/helpers.js';
import { tempDir } from '../test/tempdirs.js';

const dir = tempDir('kura-auth-');
const htpasswd = join(dir, 'htpasswd');
writeFileSync(
  htpasswd,
  ['alice', 'bob', 'carol'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}`).join('\n') + '\n',
);
const auth = {
  htpasswd,
  anonymous: [{ repositories: ['public/**'], actions: ['pull' as const] }],
  rules: [
    { users: ['alice'], repositories: ['**'], actions: ['admin' as const] },
    { users: ['bob'], repositories: ['team/**', 'public/**'], actions: ['pull' as const] },
    { users: ['carol'], repositories: ['carol/**'], actions: ['pull' as const, 'push' as const] },
  ],
};

async function push(ts: TestServer, repo: string, tag: string, authorization: string) {
  const img = makeImage();
  for (const c of [img.config, ...img.layers]) {
    const r = await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${c.digest}`, {
      body: c.bytes,
      headers: { authorization },
    });
    if (r.status !== 201) return r;
  }
  return ts.req('PUT', `/v2/${repo}/manifests/${tag}`, {
    body: img.manifest.bytes,
    headers: { authorization, 'content-type': img.manifest.mediaType },
  });
}

describe('Basic authentication (htpasswd)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ auth });
  });
  after(async () => {
    await ts.close();
  });

  test('401 with a Basic challenge without or with wrong credentials; 200 with right ones', async () => {
    const r = await ts.req('GET', '/v2/');
    assertError(r, 401, 'UNAUTHORIZED');
    assert.match(String(r.headers['www-authenticate']), /^Basic realm="kura"/);
    assertError(
      await ts.req('GET', '/v2/', { headers: { authorization: basic('alice', 'nope') } }),
      401,
      'UNAUTHORIZED',
    );
    assertError(await ts.req('GET', '/v2/', { headers: { authorization: basic('mallory') } }), 401, 'UNAUTHORIZED');
    assert.equal((await ts.req('GET', '/v2/', { headers: { authorization: basic('alice') } })).status, 200);
    assert.equal((await ts.req('GET', '/livez')).status, 200, 'health stays open');
  });

  test('permissions: 403 DENIED for a known user without the right, 401 for anonymous', async () => {
    assert.equal((await push(ts, 'team/app', 'v1', basic('alice'))).status, 201);
    assert.equal((await push(ts, 'public/tool', 'v1', basic('alice'))).status, 201);
    assertError(await push(ts, 'team/app', 'v2', basic('bob')), 403, 'DENIED');
    assert.equal(
      (await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: basic('bob') } })).status,
      200,
    );
    assertError(
      await ts.req('DELETE', '/v2/team/app/manifests/v1', { headers: { authorization: basic('bob') } }),
      403,
      'DENIED',
    );
    assertError(await ts.req('GET', '/v2/team/app/tags/list'), 401, 'UNAUTHORIZED');
    assert.equal((await ts.req('GET', '/v2/public/tool/tags/list')).status, 200, 'anonymous pull where granted');
    assertError(await push(ts, 'public/tool', 'v2', ''), 401, 'UNAUTHORIZED');
    assertError(
      await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: basic('carol') } }),
      403,
      'DENIED',
    );
    assertError(await ts.req('GET', '/admin/v1/usage', { headers: { authorization: basic('bob') } }), 403, 'DENIED');
    assert.equal((await ts.req('GET', '/admin/v1/usage', { headers: { authorization: basic('alice') } })).status, 200);
  });

  test(
    'cross-repository mount only from where the caller may pull; catalog shows only pullable ' + 'repositories',
    async () => {
      const secret = randomBlob(500);
      const d = digestOf(secret);
      assert.equal(
        (
          await ts.req('POST', `/v2/team/secret/blobs/uploads/?digest=${d}`, {
            body: secret,
            headers: { authorization: basic('alice') },
          })
        ).status,
        201,
      );
      const mount = await ts.req('POST', `/v2/carol/x/blobs/uploads/?mount=${d}&from=team/secret`, {
        headers: { authorization: basic('carol') },
      });
      assert.equal(mount.status, 202, 'a normal upload session, not the blob');
      assert.equal(
        (await ts.req('HEAD', `/v2/carol/x/blobs/${d}`, { headers: { authorization: basic('carol') } })).status,
        404,
      );
      const mine = await ts.req('POST', `/v2/team/copy/blobs/uploads/?mount=${d}&from=team/secret`, {
        headers: { authorization: basic('alice') },
      });
      assert.equal(mine.status, 201);
      const cat = (u: string) =>
        ts
          .req('GET', '/v2/_catalog', { headers: { authorization: basic(u) } })
          .then((r) => r.json().repositories as string[]);
      assert.deepEqual(await cat('bob'), ['public/tool', 'team/app', 'team/copy', 'team/secret']);
      assert.deepEqual(await cat('carol'), ['public/tool'], 'signed-in users keep what anonymous callers may pull');
      assert.ok((await cat('alice')).includes('team/secret'));
    },
  );
});

describe('token authentication (docker token flow)', () => {
  let ts: TestServer;
  // The server's clock: tokens expire when the test moves it, not after a real wait. It starts on a whole
  // second, since tokens carry times in seconds.
  const clock = testClock(Math.floor(Date.now() / 1000) * 1000);
  before(async () => {
    ts = await startTestServer({ auth: { ...auth, token: { enabled: true, expiry: '2s' } } }, { now: clock.now });
  });
  after(async () => {
    await ts.close();
  });
  const token = async (scope: string, authorization?: string) => {
    const r = await ts.req(
      'GET',
      `/v2/token?service=kura&scope=${encodeURIComponent(scope)}`,
      authorization ? { headers: { authorization } } : {},
    );
    assert.equal(r.status, 200, r.text());
    const body = r.json();
    assert.equal(body.token, body.access_token);
    assert.equal(typeof body.expires_in, 'number');
    return `Bearer ${body.token}`;
  };

  test('challenges name the realm, service and scope; tokens carry only granted actions', async () => {
    const ping = await ts.req('GET', '/v2/');
    assertError(ping, 401, 'UNAUTHORIZED');
    assert.match(
      String(ping.headers['www-authenticate']),
      /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/v2\/token",service="kura"$/,
    );
    const need = await ts.req('GET', '/v2/team/app/tags/list');
    assert.match(String(need.headers['www-authenticate']), /scope="repository:team\/app:pull"/);
    assertError(
      await ts.req('GET', '/v2/token', { headers: { authorization: basic('alice', 'bad') } }),
      401,
      'UNAUTHORIZED',
    );

    const alice = await token('repository:team/app:pull,push', basic('alice'));
    assert.equal((await push(ts, 'team/app', 'v1', alice)).status, 201);
    // bob asks for push and gets only pull: pulling works, pushing is 403 (he could never push there).
    const bob = await token('repository:team/app:pull,push', basic('bob'));
    assert.equal((await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: bob } })).status, 200);
    assertError(await push(ts, 'team/app', 'v2', bob), 403, 'DENIED');
    // A token for one repository is no key to another: 401 insufficient_scope, so the client asks again.
    const other = await ts.req('GET', '/v2/team/other/tags/list', { headers: { authorization: alice } });
    assertError(other, 401, 'UNAUTHORIZED');
    assert.match(String(other.headers['www-authenticate']), /error="insufficient_scope"/);
    // Anonymous tokens for public pulls.
    assert.equal(
      (await push(ts, 'public/tool', 'v1', await token('repository:public/tool:push', basic('alice')))).status,
      201,
    );
    const anon = await token('repository:public/tool:pull');
    assert.equal((await ts.req('GET', '/v2/public/tool/tags/list', { headers: { authorization: anon } })).status, 200);
    // Basic credentials are still accepted on the API.
    assert.equal(
      (await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: basic('bob') } })).status,
      200,
    );
  });

  test('OAuth2 password grant; forged and expired tokens are refused', async () => {
    const form = new URLSearchParams({
      grant_type: 'password',
      username: 'alice',
      password: 'alice-pw',
      scope: 'repository:team/app:pull',
      service: 'kura',
    });
    const r = await ts.req('POST', '/v2/token', {
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(r.status, 200, r.text());
    const t = `Bearer ${r.json().access_token}`;
    assert.equal((await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: t } })).status, 200);
    const bad = new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'x' });
    assert.equal(
      (
        await ts.req('POST', '/v2/token', {
          body: bad.toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).status,
      401,
    );
    assertError(
      await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: t.slice(0, -4) + 'AAAA' } }),
      401,
      'UNAUTHORIZED',
    );
    clock.advance(1900);
    assert.equal((await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: t } })).status, 200);
    clock.advance(1200);
    const expired = await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: t } });
    assertError(expired, 401, 'UNAUTHORIZED');
    assert.match(String(expired.headers['www-authenticate']), /error="invalid_token"/);
  });

  test(
    'refresh tokens: issued with access_type=offline, exchanged for new access tokens, useless as access ' + 'tokens',
    async () => {
      const form = (f: Record<string, string>) =>
        ts.req('POST', '/v2/token', {
          body: new URLSearchParams(f).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
      const first = await form({
        grant_type: 'password',
        username: 'alice',
        password: 'alice-pw',
        access_type: 'offline',
        service: 'kura',
        scope: 'repository:team/app:pull',
      });
      assert.equal(first.status, 200, first.text());
      const refresh = first.json().refresh_token as string;
      assert.ok(refresh);
      const again = await form({
        grant_type: 'refresh_token',
        refresh_token: refresh,
        service: 'kura',
        scope: 'repository:team/app:pull',
      });
      assert.equal(again.status, 200, again.text());
      assert.equal(
        (
          await ts.req('GET', '/v2/team/app/tags/list', {
            headers: { authorization: `Bearer ${again.json().access_token}` },
          })
        ).status,
        200,
      );
      assertError(
        await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: `Bearer ${refresh}` } }),
        401,
        'UNAUTHORIZED',
      );
      assert.equal(
        (await form({ grant_type: 'refresh_token', refresh_token: refresh.slice(0, -3) + 'abc' })).status,
        401,
      );
      assert.equal((await form({ grant_type: 'client_credentials' })).status, 400);
    },
  );

  test('a blob upload sent as form-urlencoded still streams (the token form parser is scoped)', async () => {
    const data = randomBlob(50_000);
    const t = await token('repository:team/form:pull,push', basic('alice'));
    const r = await ts.req('POST', `/v2/team/form/blobs/uploads/?digest=${digestOf(data)}`, {
      body: data,
      headers: { authorization: t, 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(r.status, 201, r.text());
  });
});

describe('account management over the admin API', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ auth: { ...auth, accounts: true } });
  });
  after(async () => {
    await ts.close();
  });

  test(
    'an admin creates a robot, the robot pushes where allowed, removal ends it; others may not manage ' + 'accounts',
    async () => {
      const json = (b: unknown) => ({
        body: JSON.stringify(b),
        headers: { authorization: basic('alice'), 'content-type': 'application/json' },
      });
      const made = await ts.req(
        'POST',
        '/admin/v1/accounts',
        json({
          kind: 'robot',
          name: 'robot-api',
          repositories: ['ci/**'],
          actions: ['pull', 'push'],
          expiresInSeconds: 3600,
        }),
      );
      assert.equal(made.status, 201, made.text());
      const { name, password } = made.json();
      assert.equal(name, 'robot-api');
      const robot = basic(name, password);
      assert.equal((await push(ts, 'ci/app', 'v1', robot)).status, 201);
      assertError(await push(ts, 'team/app', 'v1', robot), 403, 'DENIED');
      const list = (await ts.req('GET', '/admin/v1/accounts', { headers: { authorization: basic('alice') } })).json()
        .accounts;
      assert.deepEqual(
        list.map((a: { name: string; kind: string }) => [a.name, a.kind]),
        [['robot-api', 'robot']],
      );
      assert.ok(!JSON.stringify(list).includes('$2'), 'no password hashes');
      assertError(
        await ts.req('POST', '/admin/v1/accounts', {
          body: '{"name":"x1234567"}',
          headers: { authorization: basic('bob'), 'content-type': 'application/json' },
        }),
        403,
        'DENIED',
      );
      assertError(await ts.req('POST', '/admin/v1/accounts', json({ name: 'Bad Name' })), 400, 'NAME_INVALID');
      assertError(
        await ts.req('POST', '/admin/v1/accounts', {
          body: '{not json',
          headers: { authorization: basic('alice'), 'content-type': 'application/json' },
        }),
        400,
        'BAD_REQUEST',
      );
      // A cross-site form or text/plain POST needs no preflight: refused (security audit L5).
      assertError(
        await ts.req('POST', '/admin/v1/accounts', {
          body: '{"name":"csrfuser","password":"csrfpass123"}',
          headers: { authorization: basic('alice'), 'content-type': 'text/plain' },
        }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      assert.equal(
        (await ts.req('DELETE', '/admin/v1/accounts/robot-api', { headers: { authorization: basic('alice') } })).status,
        204,
      );
      assertError(await push(ts, 'ci/app', 'v2', robot), 401, 'UNAUTHORIZED');
      assertError(
        await ts.req('DELETE', '/admin/v1/accounts/robot-api', { headers: { authorization: basic('alice') } }),
        404,
        'NAME_UNKNOWN',
      );
      const events = (await ts.req('GET', '/admin/v1/audit', { headers: { authorization: basic('alice') } })).json()
        .events as { action: string; actor: string }[];
      assert.ok(events.some((e) => e.action === 'robot-create' && e.actor === 'alice'));
      assert.ok(events.some((e) => e.action === 'account-remove' && e.actor === 'alice'));
    },
  );
});
