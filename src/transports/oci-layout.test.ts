import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { OciError } from '../oci/errors.js';
import { loadTestImages, makeTestImages, type TestImage } from '../test/kura-process.js';
import { runTransportConformance } from './conformance.js';
import { OciLayout, copyImage } from './oci-layout.js';

const run = promisify(execFile);
let images: Map<string, TestImage>;
before(async () => {
  images = await loadTestImages(await makeTestImages());
});

const blobSet = (dir: string) => readdirSync(join(dir, 'blobs', 'sha256')).filter((f) => !f.endsWith('.tmp')).sort();

test('copying skopeo/umoci-made layouts (single image, whiteout layers, two-platform index) keeps them byte-exact and skopeo reads the result', async () => {
  for (const name of ['tiny', 'layers', 'multiarch']) {
    const img = images.get(name)!;
    const out = mkdtempSync(join(tmpdir(), `kura-layout-${name}-`));
    const d = await copyImage(new OciLayout(img.layout), img.tag, new OciLayout(out), 'copied');
    assert.equal(d.digest, img.digest);
    assert.deepEqual(blobSet(out), blobSet(img.layout).filter((b) => blobSet(out).includes(b)), `${name}: blobs`);
    const raw = (await run('skopeo', ['inspect', '--raw', `oci:${out}:copied`], { encoding: 'buffer' })).stdout as Buffer;
    assert.equal('sha256:' + createHash('sha256').update(raw).digest('hex'), img.digest, `${name}: skopeo sees the same manifest`);
    const again = mkdtempSync(join(tmpdir(), `kura-layout-${name}-again-`));
    await run('skopeo', ['copy', '--all', `oci:${out}:copied`, `oci:${again}:x`]);
    assert.deepEqual(await new OciLayout(out).tags(), ['copied']);
  }
});

test('a corrupt source blob is refused (DIGEST_INVALID or SIZE_INVALID) and leaves no file behind; an unknown tag names the tags there are', async () => {
  const img = images.get('tiny')!;
  const src = mkdtempSync(join(tmpdir(), 'kura-layout-bad-'));
  cpSync(img.layout, src, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(src, 'blobs', 'sha256', img.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  const layer = manifest.layers[0]!.digest.slice(7);
  writeFileSync(join(src, 'blobs', 'sha256', layer), 'not the layer');
  const out = mkdtempSync(join(tmpdir(), 'kura-layout-out-'));
  await assert.rejects(copyImage(new OciLayout(src), img.tag, new OciLayout(out), 't'), (e: unknown) => e instanceof OciError && (e.code === 'DIGEST_INVALID' || e.code === 'SIZE_INVALID'));
  assert.ok(!blobSet(out).includes(layer), 'no blob under the digest');
  assert.deepEqual(readdirSync(join(out, 'blobs', 'sha256')).filter((f) => f.endsWith('.tmp')), []);
  await assert.rejects(new OciLayout(img.layout).get('nope'), /has no image "nope" \(tags: latest\)/);
});

{
  const dirs: string[] = [];
  runTransportConformance('oci layout', {
    create: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kura-layout-conf-'));
      dirs.push(dir);
      return new OciLayout(dir);
    },
    reopen: async (m) => new OciLayout((m as OciLayout).dir),
    cleanup: async () => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  });
}
