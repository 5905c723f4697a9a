import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { makeImage, type TestServer, startTestServer } from '../test/testkit.js';
import { basic } from '../test/helpers.js';
import { tempDir } from '../test/tempdirs.js';

const dir = tempDir('kura-audit-');
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('a', 4)}\nbob:${bcrypt.hashSync('b', 4)}\n`);

let ts: TestServer;
before(async () => {
  ts = await startTestServer({
    auth: {
      htpasswd,
      rules: [
        { users: ['alice'], repositories: ['**'], actions: ['admin'] },
        { users: ['bob'], repositories: ['**'], actions: ['pull'] },
      ],
    },
  });
});
after(async () => {
  await ts.close();
});

test(
  'the audit trail records who pushed, pulled, deleted and was refused, from where, and survives a ' + 'restart',
  async () => {
    const a = basic('alice', 'a');
    const b = basic('bob', 'b');
    const img = makeImage();
    for (const c of [img.config, ...img.layers])
      await ts.req('POST', `/v2/team/app/blobs/uploads/?digest=${c.digest}`, {
        body: c.bytes,
        headers: { authorization: a },
      });
    assert.equal(
      (
        await ts.req('PUT', '/v2/team/app/manifests/v1', {
          body: img.manifest.bytes,
          headers: { authorization: a, 'content-type': img.manifest.mediaType },
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await ts.req('GET', '/v2/team/app/manifests/v1', {
          headers: { authorization: b, accept: img.manifest.mediaType },
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await ts.req('HEAD', '/v2/team/app/manifests/v1', {
          headers: { authorization: b, accept: img.manifest.mediaType },
        })
      ).status,
      200,
    );
    assert.equal((await ts.req('DELETE', '/v2/team/app/manifests/v1', { headers: { authorization: b } })).status, 403);
    assert.equal((await ts.req('DELETE', '/v2/team/app/manifests/v1', { headers: { authorization: a } })).status, 202);
    assert.equal(
      (await ts.req('GET', '/v2/team/app/tags/list')).status,
      401,
      'no credentials: the usual first request, not recorded',
    );
    assert.equal(
      (await ts.req('GET', '/v2/team/app/tags/list', { headers: { authorization: basic('bob', 'wrong') } })).status,
      401,
    );

    await ts.restart();
    const r = await ts.req('GET', '/admin/v1/audit?repository=team/app', { headers: { authorization: a } });
    assert.equal(r.status, 200);
    const events = (
      r.json().events as { actor: string | null; action: string; reference: string; status: number; address: string }[]
    ).reverse();
    assert.deepEqual(
      events.map((e) => [e.actor, e.action, e.status]),
      [
        ['alice', 'push', 201],
        ['bob', 'pull', 200],
        ['bob', 'denied', 403],
        ['alice', 'delete', 202],
        [null, 'denied', 401],
      ],
      'the 401 with wrong credentials is recorded, the one without any is not',
    );
    assert.ok(events.every((e) => e.address === '127.0.0.1'));
    assert.equal(
      (await ts.req('GET', '/admin/v1/audit', { headers: { authorization: b } })).status,
      403,
      'bob is no admin',
    );
    const onlyBob = (await ts.req('GET', '/admin/v1/audit?actor=bob', { headers: { authorization: a } })).json().events;
    assert.ok(onlyBob.length === 2 && onlyBob.every((e: { actor: string }) => e.actor === 'bob'));
  },
);

test(
  'refused requests are capped per address and minute, with one row that counts the rest (security audit ' + 'M9)',
  async () => {
    const before = (
      await ts.req('GET', '/admin/v1/audit?limit=10000', { headers: { authorization: basic('alice', 'a') } })
    ).json().events.length;
    for (let i = 0; i < 40; i++) {
      assert.equal((await ts.req('GET', `/v2/private/x${i}/manifests/latest`)).status, 401);
      assert.equal(
        (await ts.req('DELETE', `/v2/team/x${i}/manifests/latest`, { headers: { authorization: basic('bob', 'b') } }))
          .status,
        403,
      );
    }
    await ts.restart();
    const events = (
      await ts.req('GET', '/admin/v1/audit?limit=10000', { headers: { authorization: basic('alice', 'a') } })
    ).json().events as { action: string }[];
    const added = events.length - before;
    assert.ok(added <= 5, `40 anonymous 401s and 40 403s added ${added} rows`);
    assert.ok(added >= 1, 'refusals with credentials are still recorded');
  },
);
