/**
 * The registry client against Distribution 2.8.2 where it is easy to get wrong: a tag delete that
 * must not take the image's other tags along (Distribution cannot delete a tag), and many small
 * images pushed in a row through one client. (The benchmark set-up that once stopped midway was
 * Distribution blocked on its own log pipe, not the client: src/test/distribution-log.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomImage } from '../../oci/random.js';
import { distributionMissing, startDistribution, type Distribution } from '../../test/distribution.js';
import { assertComplete } from '../conformance.js';
import { RegistryClient } from './client.js';
import type { RegistryResponseError } from './errors.js';

describe('registry client safety against Distribution 2.8.2', { skip: distributionMissing() }, () => {
  let d: Distribution;
  before(async () => {
    d = await startDistribution();
  });
  after(() => d.stop());

  test('delete(tag) removes that tag alone: the image keeps its other tags, at the same digest', async () => {
    const repo = new RegistryClient({ registry: d.host }).repository('safety/delete');
    const img = await randomImage({ seed: 221 });
    await repo.write('keep-me', img);
    await repo.write('remove-me', img);
    await repo.delete('remove-me');
    assert.deepEqual(await repo.tags(), ['keep-me']);
    assert.equal((await repo.head('keep-me')).descriptor.digest, img.descriptor.digest);
    await assertComplete(await repo.get('keep-me'));
    await assert.rejects(repo.head('remove-me'), { code: 'MANIFEST_UNKNOWN' });
    // A tag that is not there is MANIFEST_UNKNOWN, with where it was looked for.
    await assert.rejects(repo.delete('never-was'), (e: RegistryResponseError) => {
      assert.deepEqual(
        [e.code, e.status, e.registry, e.repository],
        ['MANIFEST_UNKNOWN', 404, d.host, 'safety/delete'],
      );
      return true;
    });
  });

  test('{ widen: true } deletes the manifest the tag names, every tag of it; deleteManifest by digest', async () => {
    const repo = new RegistryClient({ registry: d.host }).repository('safety/widen');
    const a = await randomImage({ seed: 222 });
    const b = await randomImage({ seed: 223 });
    for (const t of ['a1', 'a2']) await repo.write(t, a);
    for (const t of ['b1', 'b2']) await repo.write(t, b);
    await repo.delete('a1', { widen: true });
    assert.deepEqual((await repo.tags()).sort(), ['b1', 'b2']);
    await repo.deleteManifest(b.descriptor.digest);
    assert.deepEqual(await repo.tags(), []);
    await assert.rejects(repo.deleteManifest('sha256:nope'), { code: 'DIGEST_INVALID' });
  });

  test('sixty small images pushed in a row through one client all arrive', { timeout: 120_000 }, async () => {
    // Three small layers each, to a repository per image and as tags of one repository, as
    // bench/copy.mjs sets up its source registry, here through one client object.
    const client = new RegistryClient({ registry: d.host });
    for (let i = 0; i < 30; i++) {
      const img = await randomImage({ seed: 1000 + i, layers: 3, layerSize: 10_240 + ((i * 7) % 20) * 10_240 });
      await client.repository(`bench/small${i}`).write('v1', img);
      await client.repository('bench/small').write(`t${i}`, img);
    }
    assert.equal((await client.repository('bench/small').tags()).length, 30);
    await assertComplete(await client.repository('bench/small29').get('v1'));
  });
});
