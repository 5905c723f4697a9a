import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomImage } from '../oci/random.js';
import { copyRepository } from './copy-repository.js';
import { MemoryImages } from './memory.js';

async function source(tags: string[]): Promise<MemoryImages> {
  const from = new MemoryImages();
  for (const [i, t] of tags.entries()) await from.write(t, await randomImage({ seed: i + 1 }));
  return from;
}

test('copyRepository copies every tag to the same tag, the hooks in order per tag', async () => {
  const from = await source(['v1', 'v2', 'v3']);
  const to = new MemoryImages();
  const seen: string[] = [];
  const done = await copyRepository(from, to, {
    jobs: 2,
    beforeTag: async (t) => void seen.push(`before ${t}`),
    prepare: async (a, t) => (seen.push(`prepare ${t}`), a),
    afterTag: (t, _a, d) => void seen.push(`after ${t} ${d.digest.slice(0, 13)}`),
  });
  assert.deepEqual(done.map((d) => d.tag).sort(), ['v1', 'v2', 'v3']);
  assert.deepEqual((await to.tags()).sort(), ['v1', 'v2', 'v3']);
  for (const { tag, descriptor } of done) {
    assert.equal((await to.get(tag)).descriptor.digest, (await from.get(tag)).descriptor.digest);
    const i = seen.indexOf(`before ${tag}`);
    assert.ok(i >= 0 && i < seen.indexOf(`prepare ${tag}`), seen.join(', '));
    assert.ok(seen.indexOf(`prepare ${tag}`) < seen.indexOf(`after ${tag} ${descriptor.digest.slice(0, 13)}`));
  }
});

test('copyRepository stops at a refusing check and copies nothing from an empty source', async () => {
  const to = new MemoryImages();
  const refuse = async (t: string) => {
    if (t === 'bad') throw new Error('policy refuses bad');
  };
  await assert.rejects(copyRepository(await source(['bad']), to, { beforeTag: refuse }), /policy refuses bad/);
  assert.deepEqual(await to.tags(), []);
  assert.deepEqual(await copyRepository(new MemoryImages(), to), []);
});
