import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { isLoopback } from './admin.js';
import { useTestServer } from '../test/testkit.js';
import { useMemoryApp } from '../test/memory-app.js';
import { basic } from '../test/helpers.js';
import { tempDir } from '../test/tempdirs.js';

test('isLoopback: all of 127.0.0.0/8 and ::1, also IPv4-mapped; nothing else', () => {
  for (const a of ['127.0.0.1', '127.0.0.2', '127.255.0.9', '::1', '::ffff:127.0.0.1'])
    assert.equal(isLoopback(a), true, a);
  for (const a of ['192.0.2.1', '10.0.0.1', '::ffff:192.0.2.1', '::', '0.0.0.0', '1.127.0.0', undefined])
    assert.equal(isLoopback(a), false, String(a));
});

describe('admin API with authentication off (security audit L6)', () => {
  const ts = useMemoryApp();

  test('reads answer on loopback only; changes are refused everywhere', async () => {
    const app = ts.app;
    for (const url of ['/admin/v1/accounts', '/admin/v1/audit', '/admin/v1/usage']) {
      assert.equal((await app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1' })).statusCode, 200, url);
      const far = await app.inject({ method: 'GET', url, remoteAddress: '192.0.2.1' });
      assert.equal(far.statusCode, 403, url);
      assert.match(far.body, /only on loopback/);
    }
    const post = await app.inject({
      method: 'POST',
      url: '/admin/v1/accounts',
      remoteAddress: '127.0.0.1',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"x1234567"}',
    });
    assert.equal(post.statusCode, 403);
  });
});

describe('admin API with authentication on: explicit global admins only, for Basic and tokens', () => {
  const dir = tempDir('kura-admin-');
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(
    htpasswd,
    ['root', 'ops', 'star', 'team'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}`).join('\n') + '\n',
  );
  const ts = useTestServer({
    auth: {
      htpasswd,
      token: { enabled: true },
      admins: ['ops'],
      rules: [
        { users: ['root'], repositories: ['**'], actions: ['admin'] },
        { users: ['star'], repositories: ['*'], actions: ['admin'] },
        { users: ['team'], repositories: ['team/**'], actions: ['admin'] },
      ],
    },
  });
  const token = async (u: string, scope: string) =>
    (
      await ts.req('GET', `/v2/token?service=kura&scope=${encodeURIComponent(scope)}`, {
        headers: { authorization: basic(u) },
      })
    ).json().token as string;

  test(
    'Basic: auth.admins and admin on exactly "**" are admins; "*" and team/** are not; remote or local ' + 'alike',
    async () => {
      const app = ts.running.app;
      for (const [u, status] of [
        ['root', 200],
        ['ops', 200],
        ['star', 403],
        ['team', 403],
      ] as const) {
        for (const remoteAddress of ['127.0.0.1', '192.0.2.1']) {
          const r = await app.inject({
            method: 'GET',
            url: '/admin/v1/usage',
            remoteAddress,
            headers: { authorization: basic(u) },
          });
          assert.equal(r.statusCode, status, `${u} from ${remoteAddress}`);
        }
      }
      assert.equal(
        (await app.inject({ method: 'GET', url: '/admin/v1/usage', remoteAddress: '127.0.0.1' })).statusCode,
        401,
        'loopback is no credential',
      );
    },
  );

  test('tokens: only with the registry:admin:* claim, granted only to global admins', async () => {
    assert.equal(
      (
        await ts.req('GET', '/admin/v1/usage', {
          headers: { authorization: `Bearer ${await token('ops', 'registry:admin:*')}` },
        })
      ).status,
      200,
    );
    const noScope = await ts.req('GET', '/admin/v1/usage', {
      headers: { authorization: `Bearer ${await token('ops', 'repository:x:pull')}` },
    });
    assert.equal(noScope.status, 401);
    assert.match(String(noScope.headers['www-authenticate']), /scope="registry:admin:\*",error="insufficient_scope"/);
    assert.equal(
      (
        await ts.req('GET', '/admin/v1/usage', {
          headers: { authorization: `Bearer ${await token('star', 'registry:admin:*')}` },
        })
      ).status,
      403,
    );
  });
});
