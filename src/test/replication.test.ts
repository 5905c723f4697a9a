/**
 * Replication rules of `kura serve` against real destinations: a second `kura serve` (on push, tag filter,
 * referrers along, a prefix) and Distribution 2.8.2 behind htpasswd (on a schedule, credentials from the
 * environment, never shown); each rule's last run in GET /admin/v1/replication.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { distributionMissing, startDistribution, type Distribution } from './distribution.js';
import {
  assertStatus,
  makeImage,
  makeReferrer,
  pushImage,
  rawRequest,
  startTestServer,
  type TestServer,
} from './testkit.js';

const skip = distributionMissing();
const SECRET = 'repl-Secret-42';
const dir = mkdtempSync(join(tmpdir(), 'kura-replication-'));
let dest: TestServer;
let dist: Distribution;
let source: TestServer;

before(async () => {
  if (skip) return;
  dest = await startTestServer();
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `mirror:${bcrypt.hashSync(SECRET, 5)}\n`);
  dist = await startDistribution({ htpasswd });
  process.env.KURA_TEST_REPLICATION_CREDS = `mirror:${SECRET}`;
  source = await startTestServer({
    replication: {
      rules: [
        {
          name: 'to-kura',
          repositories: ['team/**'],
          tags: ['v*'],
          to: { url: dest.url, prefix: 'dr' },
          onPush: true,
        },
        {
          name: 'to-dist',
          repositories: ['team/**'],
          to: { url: dist.url, credentialsEnv: 'KURA_TEST_REPLICATION_CREDS' },
          schedule: '300ms',
        },
      ],
    },
  });
});

after(async () => {
  await source?.close();
  await dest?.close();
  await dist?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Polls `check` until it holds (10 s at most). */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what} within 10 s`);
}

const accept = 'application/vnd.oci.image.manifest.v1+json';

describe('replication rules', { skip }, () => {
  test('on push: tags matching the rule reach a second kura serve under the prefix, with referrers', async () => {
    const img = makeImage();
    await pushImage(source, 'team/app', img, 'v1');
    await pushImage(source, 'team/app', img, 'dev');
    await eventually('v1 replicated', async () => {
      const r = await dest.req('GET', '/v2/dr/team/app/manifests/v1', { headers: { accept } });
      return r.status === 200 && r.headers['docker-content-digest'] === img.manifest.digest;
    });
    // A signature pushed after the image was replicated follows it (a push by digest copies that manifest).
    const sig = makeReferrer(img.manifest, 'application/vnd.example.signature');
    await pushImage(source, 'team/app', sig);
    await eventually('the referrer replicated', async () => {
      const r = await dest.req('GET', `/v2/dr/team/app/referrers/${img.manifest.digest}`);
      return r.status === 200 && JSON.stringify(r.json()).includes(sig.manifest.digest);
    });
    assert.equal((await dest.req('GET', '/v2/dr/team/app/manifests/dev')).status, 404, 'dev is not a v* tag');
    const status = await source.req('GET', '/admin/v1/replication');
    assertStatus(status, 200);
    const rule = status.json().rules.find((r: { name: string }) => r.name === 'to-kura');
    assert.equal(rule.to, `${dest.url}/dr`);
    assert.ok(rule.runs >= 1 && rule.last.trigger === 'push', JSON.stringify(rule));
    assert.equal(rule.last.failed, 0, JSON.stringify(rule.last));
    // A push to a repository no rule takes replicates nothing.
    await pushImage(source, 'other/app', makeImage(), 'v1');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await dest.req('GET', '/v2/dr/other/app/manifests/v1')).status, 404);
  });

  test('on a schedule: every tag reaches Distribution behind htpasswd; the secret is never shown', async () => {
    const img = makeImage({ layers: 2 });
    await pushImage(source, 'team/tool', img, 'stable');
    const auth = { authorization: `Basic ${Buffer.from(`mirror:${SECRET}`).toString('base64')}` };
    await eventually('stable replicated to Distribution', async () => {
      const r = await rawRequest(dist.url, undefined, 'GET', '/v2/team/tool/manifests/stable', {
        headers: { accept, ...auth },
      });
      return r.status === 200 && r.headers['docker-content-digest'] === img.manifest.digest;
    });
    for (const b of [img.config, ...img.layers]) {
      const r = await rawRequest(dist.url, undefined, 'GET', `/v2/team/tool/blobs/${b.digest}`, { headers: auth });
      assert.deepEqual(r.body, b.bytes);
    }
    const status = await source.req('GET', '/admin/v1/replication');
    const rule = status.json().rules.find((r: { name: string }) => r.name === 'to-dist');
    assert.ok(rule.last.trigger === 'schedule' && rule.last.failed === 0, JSON.stringify(rule));
    assert.ok(!status.text().includes(SECRET), 'no secret in the admin API');
  });

  test('runs on demand need an admin; a rule whose credentials are missing stops the start', async () => {
    const run = await source.req('POST', '/admin/v1/replication/run?rule=to-kura');
    assert.equal(run.status, 403, 'authentication is off: no admin may start runs');
    await assert.rejects(
      startTestServer({
        replication: {
          rules: [
            {
              name: 'broken',
              repositories: ['**'],
              to: { url: dest.url, credentialsEnv: 'KURA_TEST_REPLICATION_UNSET' },
              onPush: true,
            },
          ],
        },
      }),
      /replication rule "broken": environment variable KURA_TEST_REPLICATION_UNSET must hold USER:PASSWORD/,
    );
  });
});
