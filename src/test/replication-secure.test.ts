/**
 * Replication from a server with htpasswd authentication and TLS on: the rules read the source in-process, so a
 * push over HTTPS (with credentials) reaches a second kura serve and Distribution (htpasswd), and both hold the
 * same tags with the same digests as the source, index children and referrers included.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { RegistryRepository } from '../transports/registry/repository.js';
import { makeImage, makeReferrer } from './content.js';
import { distributionMissing, selfSignedCert, startDistribution, type Distribution } from './distribution.js';
import { eventually, imageArtifact, indexArtifact, repository, tagDigests } from './replication-kit.js';
import { startTestServer, type TestServer } from './testkit.js';

const skip = distributionMissing() ?? (existsSync('/usr/bin/openssl') ? undefined : 'openssl is missing');
const dir = mkdtempSync(join(tmpdir(), 'kura-replication-secure-'));
const admin = { username: 'admin', password: 'src-Secret-7' };
const mirror = { username: 'mirror', password: 'dst-Secret-9' };
let source: TestServer;
let dest: TestServer;
let dist: Distribution;
let cert: string;

const host = (url: string) => new URL(url).host;

before(async () => {
  if (skip) return;
  const tls = selfSignedCert(dir, 'repl-src');
  cert = tls.cert;
  writeFileSync(join(dir, 'src.htpasswd'), `admin:${bcrypt.hashSync(admin.password, 5)}\n`);
  writeFileSync(join(dir, 'dst.htpasswd'), `mirror:${bcrypt.hashSync(mirror.password, 5)}\n`);
  writeFileSync(join(dir, 'mirror.creds'), `mirror:${mirror.password}\n`);
  dest = await startTestServer();
  dist = await startDistribution({ htpasswd: join(dir, 'dst.htpasswd') });
  source = await startTestServer({
    tls,
    auth: { htpasswd: join(dir, 'src.htpasswd'), admins: ['admin'] },
    replication: {
      rules: [
        { name: 'to-kura', repositories: ['team/**'], to: { url: dest.url }, onPush: true },
        {
          name: 'to-dist',
          repositories: ['team/**'],
          to: { url: dist.url, credentialsFile: join(dir, 'mirror.creds') },
          onPush: true,
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

describe('replication from a server with auth and TLS', { skip }, () => {
  test('a push over HTTPS with credentials reaches kura serve and Distribution: same tags, same digests', async () => {
    assert.match(source.url, /^https:/);
    const src = (repo: string) => repository(host(source.url), repo, { caFile: cert, credentials: admin });
    // The source really refuses anonymous callers.
    await assert.rejects(repository(host(source.url), 'team/app', { caFile: cert }).tags());

    const img = makeImage({ layers: 2 });
    await src('team/app').write('v1', imageArtifact(img));
    const { artifact: index } = indexArtifact();
    await src('team/app').write('multi', index);
    const sig = makeReferrer(img.manifest, 'application/vnd.example.signature');
    await src('team/app').write(sig.manifest.digest, imageArtifact(sig));

    const want = await tagDigests(src('team/app'));
    assert.deepEqual([...want.keys()], ['multi', 'v1']);
    const sides: [string, RegistryRepository][] = [
      ['kura serve', repository(host(dest.url), 'team/app')],
      ['Distribution', repository(dist.host, 'team/app', { credentials: mirror })],
    ];
    for (const [name, repo] of sides) {
      await eventually(`${name} has the source's tags`, async () => {
        const got = await tagDigests(repo);
        return JSON.stringify([...got]) === JSON.stringify([...want]);
      });
      // Every child of the index is there by digest, and the referrer with its subject.
      const got = await repo.get('multi');
      assert.equal(got.descriptor.digest, index.descriptor.digest, name);
      for (const child of JSON.parse(index.manifest.toString()).manifests as { digest: string }[])
        assert.equal((await repo.head(child.digest)).descriptor.digest, child.digest, `${name}: child ${child.digest}`);
      await eventually(`${name} has the referrer`, async () => {
        return (await repo.head(sig.manifest.digest)).descriptor.digest === sig.manifest.digest;
      });
    }
  });

  test('the admin API shows both rules ran with no failure', async () => {
    const status = await source.running.app.inject({
      method: 'GET',
      url: '/admin/v1/replication',
      headers: { authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}` },
    });
    assert.equal(status.statusCode, 200, status.body);
    const rules = status.json().rules as { name: string; runs: number; last: { failed: number } | null }[];
    for (const r of rules) {
      assert.ok(r.runs >= 1, JSON.stringify(r));
      assert.equal(r.last?.failed, 0, JSON.stringify(r));
    }
    assert.ok(!status.body.includes(mirror.password), 'no secret in the admin API');
  });
});
