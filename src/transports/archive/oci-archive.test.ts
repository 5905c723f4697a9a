import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Artifact, Descriptor } from '../../oci/artifact.js';
import { randomImage } from '../../oci/random.js';
import { loadTestImages, makeTestImages, type TestImage } from '../../test/kura-process.js';
import { tempDirs } from '../../test/tempdirs.js';
import { assertComplete, runTransportConformance } from '../conformance.js';
import { OciArchive } from './oci-archive.js';
import { OciLayout } from '../layout/oci-layout.js';
import { loadTree } from '../../oci/tree.js';
import { readSmallBlob } from '../../oci/blob.js';
import { digestOf } from '../../oci/digest.js';

const run = promisify(execFile);
let images: Map<string, TestImage>;
before(async () => {
  images = await loadTestImages(await makeTestImages());
});
const dir = tempDirs('kura-ociarchive-');

/** Config digest and diff_ids of each image under an artifact (one for an image, one per child for an index). */
async function contents(a: Artifact): Promise<string[]> {
  const tree = await loadTree(a);
  const nodes = tree.manifests.length ? tree.manifests : [tree];
  return Promise.all(
    nodes.map(async (n) => {
      const config = (JSON.parse(n.manifest.toString('utf8')) as { config: Descriptor }).config;
      return (
        `${config.digest} ` +
        `${(await readSmallBlob(a.blobs, config)).toString('utf8').match(/"diff_ids":\[[^\]]*\]/)![0]}`
      );
    }),
  );
}

test('reads skopeo-made oci-archives (single image, whiteout layers, two-platform index) byte-exact', async () => {
  for (const name of ['tiny', 'layers', 'multiarch']) {
    const img = images.get(name)!;
    const f = join(dir(), 'a.tar');
    await run('skopeo', ['copy', '-q', '--all', `oci:${img.layout}:${img.tag}`, `oci-archive:${f}:${name}`]);
    // skopeo may compress an uncompressed layer on the way, so the manifest is what it says it wrote.
    const digest = digestOf(
      (await run('skopeo', ['inspect', '--raw', `oci-archive:${f}:${name}`], { encoding: 'buffer' })).stdout as Buffer,
    );
    const want = await contents(await new OciLayout(img.layout).get(img.tag));
    const a = new OciArchive(f);
    assert.deepEqual(await a.tags(), [name]);
    for (const ref of [name, '', digest]) {
      const got = await a.get(ref);
      assert.equal(got.descriptor.digest, digest, `${name} ${ref}`);
      assert.equal(digestOf(got.manifest), digest);
      assert.deepEqual(await contents(got), want);
      await assertComplete(got);
    }
    await assert.rejects(a.get('nope'), /has no image "nope" \(tags: /);
    await a.close();
  }
});

test(
  'Kura-written oci-archives are read by skopeo; several writes (and opens) add tags, a replaced tag leaves no ' +
    'stray blobs',
  async () => {
    const multi = images.get('multiarch')!;
    const layers = images.get('layers')!;
    const f = join(dir(), 'out.tar');
    const w = new OciArchive(f);
    await w.write('multi', await new OciLayout(multi.layout).get(multi.tag));
    await w.close();
    const w2 = new OciArchive(f);
    await w2.write('layers', await new OciLayout(layers.layout).get(layers.tag));
    await w2.write('again', await new OciLayout(layers.layout).get(layers.tag));
    await w2.close();
    assert.deepEqual(await new OciArchive(f).tags(), ['again', 'layers', 'multi']);
    const raw = (await run('skopeo', ['inspect', '--raw', `oci-archive:${f}:multi`], { encoding: 'buffer' }))
      .stdout as Buffer;
    assert.equal(digestOf(raw), multi.digest);
    const out = dir();
    await run('skopeo', ['copy', '-q', '--all', `oci-archive:${f}:multi`, `oci:${out}:x`]);
    await run('skopeo', ['copy', '-q', `oci-archive:${f}:layers`, `oci:${out}:y`]);
    assert.equal((await new OciLayout(out).get('x')).descriptor.digest, multi.digest);
    assert.equal((await new OciLayout(out).get('y')).descriptor.digest, layers.digest);
    const list = async () =>
      (await run('tar', ['tf', f])).stdout.split('\n').filter((n) => n.startsWith('blobs/sha256/') && n.length > 14);
    const before = await list();
    const w3 = new OciArchive(f);
    await w3.write('multi', await randomImage({ seed: 5 }));
    await w3.close();
    assert.equal(
      (await list()).length,
      before.length - 8 + 4,
      'the index, its 2 manifests, 2 configs and 3 layers went; the new image is 4 blobs',
    );
    const tv = (await run('tar', ['tvf', f])).stdout.split('\n').filter(Boolean);
    assert.ok(
      tv.every((l) => / 0\/0 .* 1970-01-01 00:00 /.test(l) && /^(-rw-r--r--|drwxr-xr-x)/.test(l)),
      tv.join('\n'),
    );
  },
);

test(
  'a failed write leaves an existing FILE untouched and no temporary files; a docker-archive is named as such; ' +
    'gzip archives read',
  async () => {
    const d = dir();
    const f = join(d, 'a.tar');
    const w = new OciArchive(f);
    await w.write('v1', await randomImage({ seed: 1 }));
    await w.close();
    const before = readFileSync(f);
    const good = await randomImage({ seed: 2 });
    const m = JSON.parse(good.manifest.toString('utf8')) as { layers: Descriptor[] };
    const bad: Artifact = {
      ...good,
      blobs: {
        open: async (x) =>
          x.digest === m.layers[0]!.digest ? Readable.from([Buffer.alloc(x.size)]) : good.blobs.open(x),
      },
    };
    const w2 = new OciArchive(f);
    await assert.rejects(w2.write('v2', bad), /hash|digest|size/);
    await w2.close();
    assert.deepEqual(readdirSync(d), ['a.tar']);
    assert.deepEqual(readFileSync(f), before);
    writeFileSync(join(d, 'a.tar.gz'), gzipSync(before));
    const gz = new OciArchive(join(d, 'a.tar.gz'));
    await assertComplete(await gz.get('v1'));
    await gz.close();
    const tiny = images.get('tiny')!;
    await assert.rejects(
      new OciArchive(tiny.dockerArchive!).get(''),
      /has no index.json: it is not an oci-archive \(a docker-archive\? use docker-archive:/,
    );
    await assert.rejects(
      new OciArchive(tiny.dockerArchive!).write('x', good),
      /cannot add to .*Remove the file or write to another one/,
    );
  },
);

// Each create() makes a new tempDirs directory, removed after the file's tests.
{
  runTransportConformance('oci archive', {
    create: async () => {
      const d = dir();
      return new OciArchive(join(d, 'image.tar'));
    },
    keepsDescriptorAnnotations: true,
    reopen: async (m) => {
      const file = (m as OciArchive).file;
      assert.deepEqual(
        readdirSync(join(file, '..')).filter((f) => f !== 'image.tar'),
        [],
        'no temporary files left next to the archive',
      );
      return new OciArchive(file);
    },
  });
}
