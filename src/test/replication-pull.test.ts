/**
 * Pull rules (`replication.rules[].from`): a server fetches matching tags of remote repositories into local ones,
 * from Distribution behind htpasswd and from a kura serve with htpasswd and TLS (its CA in `caFile`). Tags and
 * digests equal the remote's, index children are there by digest, signatures and referrers come along; a rerun
 * copies nothing; a tag deleted upstream stays unless the rule prunes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { Digest } from '../oci/digest.js';
import { cosignTag } from '../signing/store.js';
import { makeImage, makeReferrer } from './content.js';
import { distributionMissing, selfSignedCert, startDistribution, type Distribution } from './distribution.js';
import { imageArtifact, indexArtifact, repository, tagDigests } from './replication-kit.js';
import { startTestServer, type TestServer } from './testkit.js';

const skip = distributionMissing() ?? (existsSync('/usr/bin/openssl') ? undefined : 'openssl is missing');
const dir = mkdtempSync(join(tmpdir(), 'kura-replication-pull-'));
const admin = { username: 'admin', password: 'local-Secret-1' };
const reader = { username: 'reader', password: 'remote-Secret-2' };
let dist: Distribution;
let remote: TestServer;
let local: TestServer;
let cert: string;

const host = (url: string) => new URL(url).host;
const basic = (c: { username: string; password: string }) =>
  `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

before(async () => {
  if (skip) return;
  const tls = selfSignedCert(dir, 'repl-remote');
  cert = tls.cert;
  const htpasswd = (file: string, c: typeof admin) =>
    writeFileSync(join(dir, file), `${c.username}:${bcrypt.hashSync(c.password, 5)}\n`);
  htpasswd('local.htpasswd', admin);
  htpasswd('remote.htpasswd', reader);
  writeFileSync(join(dir, 'reader.creds'), `${reader.username}:${reader.password}\n`);
  process.env.KURA_TEST_PULL_CREDS = `${reader.username}:${reader.password}`;
  dist = await startDistribution({ htpasswd: join(dir, 'remote.htpasswd') });
  remote = await startTestServer({ tls, auth: { htpasswd: join(dir, 'remote.htpasswd') } });
  local = await startTestServer({
    auth: { htpasswd: join(dir, 'local.htpasswd'), admins: ['admin'] },
    replication: {
      rules: [
        {
          name: 'from-dist',
          repositories: ['lib/app'],
          tags: ['v*'],
          from: { url: dist.url, credentialsFile: join(dir, 'reader.creds') },
          into: 'mirror',
          schedule: '1h',
        },
        {
          name: 'from-kura',
          repositories: ['team/app'],
          from: { url: remote.url, credentialsEnv: 'KURA_TEST_PULL_CREDS', caFile: cert },
          prune: true,
          schedule: '1h',
        },
      ],
    },
  });
});

after(async () => {
  await local?.close();
  await remote?.close();
  await dist?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Last {
  copied: number;
  unchanged: number;
  pruned: number;
  failed: number;
  errors: unknown[];
}

/** Runs one rule through the admin API (it answers when the run is over) and gives its last run. */
async function run(rule: string): Promise<Last> {
  const res = await local.running.app.inject({
    method: 'POST',
    url: `/admin/v1/replication/run?rule=${rule}`,
    headers: { authorization: basic(admin) },
  });
  assert.equal(res.statusCode, 200, res.body);
  const last = (res.json().rules as { name: string; last: Last }[]).find((r) => r.name === rule)!.last;
  assert.equal(last.failed, 0, JSON.stringify(last));
  return last;
}

const mine = (repo: string) => repository(host(local.url), repo, { credentials: admin });

describe('pull rules', { skip }, () => {
  test('from Distribution: v* tags under into/, signatures along; reruns copy nothing; no prune', async () => {
    const up = repository(dist.host, 'lib/app', { credentials: reader });
    const img = makeImage({ layers: 2 });
    await up.write('v1', imageArtifact(img));
    const { artifact: index, children } = indexArtifact();
    await up.write('v2', index);
    await up.write('dev', imageArtifact(makeImage()));
    const sig = makeImage();
    await up.write(cosignTag(img.manifest.digest, 'sig'), imageArtifact(sig));

    const first = await run('from-dist');
    assert.equal(first.copied, 2, JSON.stringify(first));
    const want = await tagDigests(up);
    const got = await tagDigests(mine('mirror/lib/app'));
    assert.deepEqual([...got.keys()], [cosignTag(img.manifest.digest, 'sig'), 'v1', 'v2'], 'no dev: not a v* tag');
    for (const [tag, digest] of got) assert.equal(digest, want.get(tag), tag);
    for (const c of children)
      assert.equal((await mine('mirror/lib/app').head(c.manifest.digest)).descriptor.digest, c.manifest.digest);

    const again = await run('from-dist');
    assert.deepEqual([again.copied, again.unchanged], [0, 2], JSON.stringify(again));

    await up.delete(img.manifest.digest);
    await assert.rejects(up.head('v1'));
    const after = await run('from-dist');
    assert.deepEqual([after.copied, after.pruned], [0, 0], JSON.stringify(after));
    assert.equal((await mine('mirror/lib/app').head('v1')).descriptor.digest, img.manifest.digest, 'v1 is kept');
  });

  test('from kura serve with auth and TLS: referrers along; with prune a tag gone upstream goes here too', async () => {
    const up = repository(host(remote.url), 'team/app', { caFile: cert, credentials: reader });
    const a = makeImage();
    const b = makeImage({ layers: 3 });
    await up.write('a', imageArtifact(a));
    await up.write('b', imageArtifact(b));
    const ref = makeReferrer(a.manifest, 'application/vnd.example.sbom');
    await up.write(ref.manifest.digest, imageArtifact(ref));

    assert.equal((await run('from-kura')).copied, 2);
    const want = await tagDigests(up);
    assert.deepEqual([...(await tagDigests(mine('team/app')))], [...want]);
    const referrers = await local.running.registry.referrers('team/app', a.manifest.digest as Digest);
    assert.deepEqual(
      referrers.items.map((r) => r.digest),
      [ref.manifest.digest],
    );

    await up.delete('b');
    const after = await run('from-kura');
    assert.deepEqual([after.copied, after.unchanged, after.pruned], [0, 1, 1], JSON.stringify(after));
    assert.deepEqual([...(await tagDigests(mine('team/app'))).keys()], ['a']);
  });

  test('a pull rule that prunes with delete.enabled false, or with globs, stops the start', async () => {
    const rule = { name: 'p', repositories: ['team/app'], from: { url: remote.url }, prune: true, schedule: '1h' };
    await assert.rejects(
      startTestServer({ delete: { enabled: false }, replication: { rules: [rule] } }),
      /replication rule "p" prunes tags: set delete.enabled: true/,
    );
    await assert.rejects(
      startTestServer({ replication: { rules: [{ ...rule, prune: false, repositories: ['team/*'] }] } }),
      /names remote repositories exactly/,
    );
  });
});
