// copyImage: one call between any two locations, by name or opened; archives opened by it are written whole.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { randomImage, randomIndex } from '../oci/random.js';
import { copyImage } from './copy-image.js';
import { OciLayout } from './layout/oci-layout.js';
import { openLocation } from './locations.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-copyimage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('copyImage moves an image and an index layout → oci-archive → layout, digests kept', async () => {
  const layout = new OciLayout(join(dir, 'a'));
  const img = await randomImage({ seed: 50 });
  const idx = await randomIndex({ seed: 51 });
  await layout.write('img', img);
  await layout.write('idx', idx);
  for (const [tag, a] of [
    ['img', img],
    ['idx', idx],
  ] as const) {
    const archive = join(dir, `${tag}.tar`);
    const d = await copyImage(`oci:${join(dir, 'a')}:${tag}`, `oci-archive:${archive}:${tag}`);
    assert.equal(d.digest, a.descriptor.digest);
    assert.ok(existsSync(archive), 'the archive was closed (written) by copyImage');
    const back = await copyImage(await openLocation(`oci-archive:${archive}:${tag}`), `oci:${join(dir, 'b')}:${tag}`);
    assert.equal(back.digest, a.descriptor.digest);
    assert.deepEqual((await new OciLayout(join(dir, 'b')).get(tag)).manifest, a.manifest);
  }
  await assert.rejects(copyImage(`oci:${join(dir, 'a')}:nope`, `oci:${join(dir, 'c')}:x`), /nope/);
});
