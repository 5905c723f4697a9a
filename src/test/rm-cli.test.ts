import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { distributionMissing, startDistribution, type Distribution } from './distribution.js';
import { startKura, type KuraProcess } from './kura-process.js';
import { kuraRunner, kuraFailsRunner } from './helpers.js';

const kura = kuraRunner();
const kuraFails = kuraFailsRunner();

/** Tags a and b on one image, c on another. */
async function seed(host: string, repo: string): Promise<{ shared: string; other: string }> {
  const r = new RegistryClient({ registry: host }).repository(repo);
  const img = await randomImage({ seed: 131 });
  const other = await randomImage({ seed: 132 });
  await r.write('a', img);
  await r.write('b', img);
  await r.write('c', other);
  return { shared: img.descriptor.digest, other: other.descriptor.digest };
}

const tags = async (host: string, repo: string) =>
  (await new RegistryClient({ registry: host }).repository(repo).tags()).sort();

describe('kura rm against Distribution 2.8.2 (no tag deletion)', { skip: distributionMissing() }, () => {
  let d: Distribution;
  before(async () => {
    d = await startDistribution();
  });
  after(() => d.stop());

  test('deleting a tag removes that tag alone; --force deletes the manifest with every tag of it', async () => {
    const { shared, other } = await seed(d.host, 'rm/app');
    // Distribution cannot delete a tag: kura moves it to a throw-away manifest and deletes that.
    assert.equal((await kura('rm', `${d.host}/rm/app:a`)).stdout, `Deleted ${d.host}/rm/app:a\n`);
    assert.deepEqual(await tags(d.host, 'rm/app'), ['b', 'c']);
    const repo = new RegistryClient({ registry: d.host }).repository('rm/app');
    assert.equal((await repo.head('b')).descriptor.digest, shared);
    // --force is skopeo's delete: the manifest the tag names goes, and b with it.
    await repo.write('d', await repo.get('c'));
    assert.equal((await kura('rm', '--force', `${d.host}/rm/app:c`)).stdout, `Deleted ${d.host}/rm/app:c\n`);
    assert.deepEqual(await tags(d.host, 'rm/app'), ['b']);
    await assert.rejects(repo.head(other), /MANIFEST_UNKNOWN|404/);
    // A digest deletes that manifest.
    assert.equal((await kura('rm', `${d.host}/rm/app@${shared}`)).stdout, `Deleted ${d.host}/rm/app@${shared}\n`);
    assert.deepEqual(await tags(d.host, 'rm/app'), []);
  });
});

describe('kura rm against kura serve (tag deletion)', () => {
  let k: KuraProcess;
  before(async () => {
    k = await startKura();
  });
  after(() => k.stop());

  test('deleting one tag leaves the other tags of its manifest', async () => {
    const { shared } = await seed(k.host, 'rm/app');
    assert.equal((await kura('rm', `${k.host}/rm/app:a`)).stdout, `Deleted ${k.host}/rm/app:a\n`);
    assert.deepEqual(await tags(k.host, 'rm/app'), ['b', 'c']);
    assert.equal(
      (await new RegistryClient({ registry: k.host }).repository('rm/app').head('b')).descriptor.digest,
      shared,
    );
  });

  test('rm offers no --store (it would do nothing)', async () => {
    const e = await kuraFails('rm', '--store', '/tmp', `${k.host}/rm/app:b`);
    assert.match(e.stderr, /unknown option '--store'/);
  });
});

test('kura rm on a Kura registry with deletes disabled names Kura’s setting', async () => {
  const k = await startKura({ args: ['--delete-enabled', 'false'] });
  try {
    await seed(k.host, 'rm/locked');
    const e = await kuraFails('rm', `${k.host}/rm/locked:a`);
    assert.match(
      e.stderr,
      new RegExp(
        `^kura: error: delete ${k.host}/rm/locked:a: ${k.host} does not allow deletes \\(Kura: delete.enabled: ` +
          `true\\)\\n$`,
      ),
    );
    assert.doesNotMatch(e.stderr, /storage\.delete/);
  } finally {
    await k.stop();
  }
});
