import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { OciError } from '../../oci/errors.js';
import { randomImage } from '../../oci/random.js';
import { loadTestImages, makeTestImages, type TestImage } from '../../test/kura-process.js';
import { tempDirs, tempDir } from '../../test/tempdirs.js';
import { expectedContent, runTransportConformance } from '../conformance.js';
import { OciLayout } from './oci-layout.js';

const run = promisify(execFile);
let images: Map<string, TestImage>;
before(async () => {
  images = await loadTestImages(await makeTestImages());
});

const blobSet = (dir: string) =>
  readdirSync(join(dir, 'blobs', 'sha256'))
    .filter((f) => !f.endsWith('.tmp'))
    .sort();

test(
  'copying skopeo/umoci-made layouts (single image, whiteout layers, two-platform index) keeps them byte-exact ' +
    'and skopeo reads the result',
  async () => {
    for (const name of ['tiny', 'layers', 'multiarch']) {
      const img = images.get(name)!;
      const out = tempDir(`kura-layout-${name}-`);
      const src = await new OciLayout(img.layout).get(img.tag);
      const d = await new OciLayout(out).write('copied', src);
      assert.equal(d.digest, img.digest);
      // Exactly the image's blobs, found by plain JSON parsing: the root, its children, configs and layers.
      const { blobs, children } = await expectedContent(src);
      const want = new Set([src.descriptor, ...children, ...blobs].map((b) => b.digest.slice('sha256:'.length)));
      assert.deepEqual(blobSet(out), [...want].sort(), `${name}: blobs`);
      const raw = (await run('skopeo', ['inspect', '--raw', `oci:${out}:copied`], { encoding: 'buffer' }))
        .stdout as Buffer;
      assert.equal(
        'sha256:' + createHash('sha256').update(raw).digest('hex'),
        img.digest,
        `${name}: skopeo sees the same manifest`,
      );
      const again = tempDir(`kura-layout-${name}-again-`);
      await run('skopeo', ['copy', '--all', `oci:${out}:copied`, `oci:${again}:x`]);
      assert.deepEqual(await new OciLayout(out).tags(), ['copied']);
    }
  },
);

test(
  'a corrupt source blob is refused (DIGEST_INVALID or SIZE_INVALID) and leaves no file behind; an unknown tag ' +
    'names the tags there are',
  async () => {
    const img = images.get('tiny')!;
    const src = tempDir('kura-layout-bad-');
    cpSync(img.layout, src, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(src, 'blobs', 'sha256', img.digest.slice(7)), 'utf8')) as {
      layers: { digest: string }[];
    };
    const layer = manifest.layers[0]!.digest.slice(7);
    writeFileSync(join(src, 'blobs', 'sha256', layer), 'not the layer');
    const out = tempDir('kura-layout-out-');
    await assert.rejects(
      new OciLayout(out).write('t', await new OciLayout(src).get(img.tag)),
      (e: unknown) => e instanceof OciError && (e.code === 'DIGEST_INVALID' || e.code === 'SIZE_INVALID'),
    );
    assert.ok(!blobSet(out).includes(layer), 'no blob under the digest');
    assert.deepEqual(
      readdirSync(join(out, 'blobs', 'sha256')).filter((f) => f.endsWith('.tmp')),
      [],
    );
    await assert.rejects(new OciLayout(img.layout).get('nope'), /has no image "nope" \(tags: latest\)/);
  },
);

const tmp = tempDirs('kura-layout-idx-');

test(
  'an index.json with "manifests": null (moby#47210) holds no images: no tags, a clear MANIFEST_UNKNOWN, and a ' +
    'write adds to it; a non-JSON one is MANIFEST_INVALID',
  async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(
      join(dir, 'index.json'),
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}',
    );
    const l = new OciLayout(dir);
    assert.deepEqual(await l.tags(), []);
    for (const ref of ['v1', '']) {
      await assert.rejects(
        l.get(ref),
        (e: unknown) =>
          e instanceof OciError &&
          e.code === 'MANIFEST_UNKNOWN' &&
          /has no image "" \(tags: none\)|has no image "v1" \(tags: none\)/.test(e.message),
      );
    }
    const src = await randomImage({ seed: 3 });
    await l.write('v1', src);
    assert.deepEqual(await l.tags(), ['v1']);
    assert.equal((await l.get('v1')).descriptor.digest, src.descriptor.digest);
    writeFileSync(join(dir, 'index.json'), 'not json');
    await assert.rejects(
      l.tags(),
      (e: unknown) =>
        e instanceof OciError &&
        e.code === 'MANIFEST_INVALID' &&
        e.message.includes(`${dir}/index.json is not a readable OCI index`),
    );
    writeFileSync(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":{}}');
    await assert.rejects(
      l.get('v1'),
      (e: unknown) =>
        e instanceof OciError && e.code === 'MANIFEST_INVALID' && /"manifests" is not a list/.test(e.message),
    );
  },
);

test(
  'get by the digest of a layer or config is a clear MANIFEST_UNKNOWN naming it; a blob over the manifest limit ' +
    'is refused unread',
  async () => {
    const dir = tmp();
    const src = await randomImage({ seed: 4 });
    const l = new OciLayout(dir);
    await l.write('v1', src);
    const m = JSON.parse(src.manifest.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const digest of [m.layers[0]!.digest, m.config.digest]) {
      await assert.rejects(
        l.get(digest),
        (e: unknown) =>
          e instanceof OciError &&
          e.code === 'MANIFEST_UNKNOWN' &&
          e.message.includes(`has a blob ${digest}, but it is not a manifest or index`),
      );
    }
    // 5 MiB under a name it does not hash to: reading it would fail verification, so this error means it was not read.
    const big = `sha256:${'ab'.repeat(32)}`;
    writeFileSync(join(dir, 'blobs', 'sha256', big.slice(7)), Buffer.alloc(5 << 20));
    await assert.rejects(
      l.get(big),
      (e: unknown) =>
        e instanceof OciError &&
        e.code === 'MANIFEST_UNKNOWN' &&
        e.message.includes(`${big}, but it is not a manifest or index (${5 << 20} bytes, more than the`),
    );
    // A manifest blob by digest still reads, verified.
    assert.deepEqual((await l.get(src.descriptor.digest)).manifest, src.manifest);
  },
);

{
  const dirs: string[] = [];
  runTransportConformance('oci layout', {
    create: async () => {
      const dir = tempDir('kura-layout-conf-');
      dirs.push(dir);
      return new OciLayout(dir);
    },
    reopen: async (m) => new OciLayout((m as OciLayout).dir),
    keepsDescriptorAnnotations: true,
    cleanup: async () => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  });
}
