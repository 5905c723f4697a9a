import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TransferEvent } from '../../oci/artifact.js';
import { randomImage } from '../../oci/random.js';
import {
  distributionMissing,
  startDistribution,
  startTokenService,
  type Distribution,
  type TokenService,
} from '../../test/distribution.js';
import { assertComplete, runTransportConformance } from '../conformance.js';
import type { Credentials } from './credentials.js';
import { RegistryClient } from './client.js';

const missing = distributionMissing();
const dir = mkdtempSync(join(tmpdir(), 'kura-dist-test-'));
let counter = 0;

if (missing) {
  test('registry transport against Distribution 2.8.2', (t) => t.skip(missing));
} else {
  let anon: Distribution;
  before(async () => {
    anon = await startDistribution();
  });
  after(async () => {
    await anon.stop();
  });
  runTransportConformance('registry (Distribution 2.8.2)', {
    create: async () => new RegistryClient({ registry: anon.host }).repository(`conformance/r${++counter}`),
  });

  test('Distribution: chunked uploads (PATCH with Content-Range) of every blob', async () => {
    const client = new RegistryClient({ registry: anon.host, chunkSize: 700 });
    const src = await randomImage({ seed: 71, layers: 2, layerSize: 3000, compression: 'none' });
    const events: TransferEvent[] = [];
    await client.repository('chunked/app').write('v1', src, { onProgress: (e) => events.push(e) });
    const got = await client.repository('chunked/app').get('v1');
    assert.deepEqual(got.manifest, src.manifest);
    await assertComplete(got);
    assert.equal(events.filter((e) => e.status === 'done').length, 3);
  });

  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', 'alice', 'alice-pw']));
  const modes: { name: string; start: () => Promise<{ d: Distribution; token?: TokenService }> }[] = [
    { name: 'anonymous', start: async () => ({ d: await startDistribution() }) },
    { name: 'htpasswd Basic', start: async () => ({ d: await startDistribution({ htpasswd }) }) },
    {
      name: 'bearer token',
      start: async () => {
        const token = await startTokenService(dir, { alice: 'alice-pw' });
        return { d: await startDistribution({ token }), token };
      },
    },
  ];
  for (const mode of modes) {
    describe(`Distribution, ${mode.name}`, () => {
      let d: Distribution;
      let token: TokenService | undefined;
      const alice: Credentials = { username: 'alice', password: 'alice-pw' };
      before(async () => {
        ({ d, token } = await mode.start());
      });
      after(async () => {
        await d.stop();
        await token?.close();
      });

      test('push, pull, head, tags, catalog, delete', async () => {
        const client = new RegistryClient({ registry: d.host, credentials: alice });
        const repo = client.repository('team/app');
        const src = await randomImage({ seed: 81 });
        const other = await randomImage({ seed: 82 });
        assert.equal((await repo.write('v1', src)).digest, src.descriptor.digest);
        const tokensBefore = token?.requests.length ?? 0;
        await repo.write('v2', other);
        // Tokens are cached per scope: a second push of three blobs and a manifest needs no new one.
        if (token) assert.equal(token.requests.length, tokensBefore, token.requests.slice(tokensBefore).join('\n'));
        const got = await repo.get('v1');
        assert.deepEqual(got.manifest, src.manifest);
        await assertComplete(got);
        assert.deepEqual((await repo.head('v1')).descriptor, src.descriptor);
        assert.deepEqual((await repo.tags()).sort(), ['v1', 'v2']);
        assert.deepEqual(await client.catalog(), ['team/app']);
        await repo.delete('v1');
        await assert.rejects(repo.get('v1'), /MANIFEST_UNKNOWN|unknown/);
        assert.equal((await repo.get('v2')).descriptor.digest, other.descriptor.digest);
        await repo.delete(other.descriptor.digest);
        await assert.rejects(repo.get('v2'), { code: /^(MANIFEST_UNKNOWN|NAME_UNKNOWN)$/ });
        if (token)
          assert.ok(
            token.requests.some((q) =>
              new URLSearchParams(q).getAll('scope').includes('repository:team/app:pull,push'),
            ),
            token.requests.join('\n'),
          );
      });

      if (mode.name !== 'anonymous') {
        test('wrong or missing credentials are one line naming the credentials option', async () => {
          await new RegistryClient({ registry: d.host, credentials: alice })
            .repository('team/locked')
            .write('v1', await randomImage({ seed: 83 }));
          const wrongClient = new RegistryClient({
            registry: d.host,
            credentials: { username: 'alice', password: 'nope' },
          });
          const wrong = wrongClient.repository('team/locked');
          await assert.rejects(wrong.get('v1'), (e: Error) => {
            assert.match(
              e.message,
              new RegExp(`401 from ${d.host}: the credentials for "alice" were refused; pass the right credentials$`),
            );
            assert.doesNotMatch(e.message, /\n/);
            return true;
          });
          const none = new RegistryClient({ registry: d.host }).repository('team/locked');
          await assert.rejects(none.get('v1'), new RegExp(`401 from ${d.host}: pass credentials`));
          await assert.rejects(wrongClient.ping(), /were refused/);
          await new RegistryClient({ registry: d.host, credentials: alice }).ping();
        });
      }
    });
  }
}
