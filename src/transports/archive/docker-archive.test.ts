import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { Artifact, Descriptor } from '../../oci/artifact.js';
import { decompress } from '../../oci/compression.js';
import { MediaTypes } from '../../oci/mediatypes.js';
import { makeTar, randomImage } from '../../oci/random.js';
import {
  containerdArchive,
  docker25Archive,
  fixtureImage,
  ggcrArchive,
  legacyArchive,
} from '../../test/archive-fixtures.js';
import { loadTestImages, makeTestImages, type TestImage } from '../../test/kura-process.js';
import { tempDirs } from '../../test/tempdirs.js';
import { assertComplete, runTransportConformance, type Medium } from '../conformance.js';
import { DockerArchive } from './docker-archive.js';
import { DockerArchiveWriter } from './docker-archive-writer.js';
import { OciLayout } from '../layout/oci-layout.js';
import { loadTree } from '../../oci/tree.js';
import { readSmallBlob } from '../../oci/blob.js';

const run = promisify(execFile);
let images: Map<string, TestImage>;
before(async () => {
  images = await loadTestImages(await makeTestImages());
});

const dir = tempDirs('kura-dockerarchive-');
function file(bytes: Buffer): string {
  const f = join(dir(), 'a.tar');
  writeFileSync(f, bytes);
  return f;
}

/** Config digest and the sha256 of each uncompressed layer of an image artifact. */
async function content(
  a: Pick<Artifact, 'manifest' | 'blobs'>,
): Promise<{ config: string; diffIds: string[]; layerTypes: string[] }> {
  const m = JSON.parse(a.manifest.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  const diffIds: string[] = [];
  for (const l of m.layers) {
    const h = createHash('sha256');
    for await (const c of (await decompress(await a.blobs.open(l))).stream) h.update(c as Buffer);
    diffIds.push(`sha256:${h.digest('hex')}`);
  }
  const config = JSON.parse((await readSmallBlob(a.blobs, m.config)).toString('utf8')) as {
    rootfs: { diff_ids: string[] };
  };
  assert.deepEqual(diffIds, config.rootfs.diff_ids, 'layers uncompress to the config diff_ids');
  return { config: m.config.digest, diffIds, layerTypes: m.layers.map((l) => l.mediaType) };
}

test(
  'reads skopeo-made docker-archives (fully-qualified RepoTags, <diffid>.tar layers) with the config and layers ' +
    'of the source layout',
  async () => {
    for (const name of ['tiny', 'layers']) {
      const img = images.get(name)!;
      const want = await content(await new OciLayout(img.layout).get(img.tag));
      const fresh = join(dir(), 'skopeo.tar');
      await run('skopeo', [
        'copy',
        '-q',
        `oci:${img.layout}:${img.tag}`,
        `docker-archive:${fresh}:example.com/app:${name}`,
      ]);
      for (const [f, ref] of [
        [img.dockerArchive!, `kura-test/${name}:${img.tag}`],
        [fresh, `example.com/app:${name}`],
      ] as const) {
        const a = new DockerArchive(f);
        for (const r of [ref, '', '@0', `docker.io/${ref}`].slice(0, f === fresh ? 3 : 4)) {
          const got = await a.get(r);
          assert.equal(got.descriptor.mediaType, MediaTypes.DockerManifest, `${name} ${r}`);
          const c = await content(got);
          assert.deepEqual([c.config, c.diffIds], [want.config, want.diffIds], `${name} ${r}`);
          await assertComplete(got);
        }
        assert.deepEqual(await a.images(), [
          { repoTags: [f === fresh ? ref : `docker.io/${ref}`], configDigest: want.config },
        ]);
        await a.close();
      }
    }
  },
);

test(
  'legacy docker save (<v1id>/layer.tar, repositories): two images, one with RepoTags null, picked by name or ' +
    '@N; skopeo agrees',
  async () => {
    const a = await fixtureImage(1);
    const b = await fixtureImage(2, { layers: 3 });
    const f = file(
      await legacyArchive([
        { img: a, tags: ['app:v1', 'app:latest'] },
        { img: b, tags: null },
      ]),
    );
    const r = new DockerArchive(f);
    assert.deepEqual(await r.tags(), ['app:v1', 'app:latest']);
    assert.deepEqual(await r.images(), [
      { repoTags: ['app:v1', 'app:latest'], configDigest: a.configDigest },
      { repoTags: [], configDigest: b.configDigest },
    ]);
    const v1 = await r.get('docker.io/library/app:v1');
    const c = await content(v1);
    assert.equal(c.config, a.configDigest);
    assert.deepEqual(c.layerTypes, [
      'application/vnd.docker.image.rootfs.diff.tar',
      'application/vnd.docker.image.rootfs.diff.tar',
    ]);
    assert.deepEqual(
      (await content(await r.get('@1'))).diffIds,
      b.layers.map((l) => l.diffId),
    );
    assert.equal((await r.get(v1.descriptor.digest)).descriptor.digest, v1.descriptor.digest);
    await assert.rejects(r.get(''), /holds 2 images: name one of @0 \(app:v1, app:latest\), @1/);
    await assert.rejects(r.get('@2'), /no image @2/);
    const sk = JSON.parse((await run('skopeo', ['inspect', `docker-archive:${f}:app:v1`])).stdout) as {
      Layers: string[];
    };
    assert.deepEqual(sk.Layers, c.diffIds);
    // Copied out, the image is a Docker schema2 image a layout can hold.
    const out = dir();
    await new OciLayout(out).write('x', await r.get('app:v1'));
    await assertComplete(await new OciLayout(out).get('x'));
  },
);

test("skopeo's variant: layer.tar entries are symlinks to <diffid>.tar, and are followed (hardlinks too)", async () => {
  const a = await fixtureImage(3);
  for (const links of ['symlink', 'link'] as const) {
    const r = new DockerArchive(file(await legacyArchive([{ img: a, tags: ['docker.io/example/app:v2'] }], { links })));
    const got = await r.get('example/app:v2');
    assert.deepEqual(
      (await content(got)).diffIds,
      a.layers.map((l) => l.diffId),
      links,
    );
    await assertComplete(got);
  }
});

test(
  'Docker 25+ (OCI layout + manifest.json): the OCI manifest is served byte-exact, a layer-less image too; ' +
    '"manifests": null falls back to manifest.json',
  async () => {
    const a = await fixtureImage(4);
    const empty = await fixtureImage(5, { layers: 0 });
    const imgs = [
      { img: a, tags: ['example.com/app:v1'] },
      { img: empty, tags: ['example.com/empty:v1'] },
    ];
    const { tar, manifests } = await docker25Archive(imgs);
    const r = new DockerArchive(file(tar));
    assert.deepEqual((await r.get('example.com/app:v1')).manifest, manifests[0]);
    const e = await r.get('example.com/empty:v1');
    assert.deepEqual(e.manifest, manifests[1]);
    assert.deepEqual((await loadTree(e)).blobs.length, 1);
    assert.equal((await r.images())[0]!.manifestDigest, (await r.get('@0')).descriptor.digest);
    const nul = new DockerArchive(file((await docker25Archive(imgs, { nullManifests: true })).tar));
    const got = await nul.get('example.com/app:v1');
    assert.equal(got.descriptor.mediaType, MediaTypes.DockerManifest);
    assert.deepEqual(
      (await content(got)).diffIds,
      a.layers.map((l) => l.diffId),
    );
    assert.deepEqual((await content(await nul.get('@1'))).diffIds, []);
    await run('skopeo', ['inspect', `docker-archive:${nul.file}:example.com/app:v1`]);
  },
);

test(
  'containerd image store: the nested index (gzip layers, unknown/unknown attestation) is served whole; without ' +
    'the attestation blobs, the image itself',
  async () => {
    const a = await fixtureImage(6, { gzip: true });
    const { tar, nested, image } = await containerdArchive(a, 'docker.io/library/app:v1');
    const r = new DockerArchive(file(tar));
    const got = await r.get('app:v1');
    assert.equal(got.descriptor.mediaType, MediaTypes.OciIndex);
    assert.deepEqual(got.manifest, nested);
    assert.equal((await loadTree(got)).manifests.length, 2);
    const out = dir();
    await new OciLayout(out).write('x', await r.get('app:v1'));
    assert.deepEqual((await new OciLayout(out).get('x')).manifest, nested);
    assert.deepEqual(await r.images(), [
      { repoTags: ['docker.io/library/app:v1'], configDigest: a.configDigest, manifestDigest: got.descriptor.digest },
    ]);
    const partial = new DockerArchive(
      file((await containerdArchive(a, 'docker.io/library/app:v1', { dropAttestation: true })).tar),
    );
    const img = await partial.get('');
    assert.deepEqual(img.manifest, image);
    assert.deepEqual((await content(img)).layerTypes, [MediaTypes.OciLayerGzip, MediaTypes.OciLayerGzip]);
  },
);

test('ggcr tarball: Config "sha256:<hex>" and compressed <hex>.tar.gz layers, kept as they are', async () => {
  const a = await fixtureImage(7, { gzip: true });
  const r = new DockerArchive(file(await ggcrArchive(a, 'ghcr.io/o/app:1')));
  const got = await r.get('ghcr.io/o/app:1');
  const m = JSON.parse(got.manifest.toString('utf8')) as { layers: Descriptor[] };
  assert.deepEqual(
    m.layers.map((l) => [l.digest, l.mediaType]),
    a.layers.map((l) => [l.digest, MediaTypes.DockerLayerGzip]),
  );
  assert.equal((await content(got)).config, a.configDigest);
  await assertComplete(got);
});

test(
  'Kura-written docker-archives (an index picked by platform, two tags on one image) are read by skopeo with the ' +
    'same config and layers',
  async () => {
    const layers = images.get('layers')!;
    const multi = images.get('multiarch')!;
    const f = join(dir(), 'out.tar');
    const w = new DockerArchiveWriter(f, { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await w.write('example.com/layers:v1', await new OciLayout(layers.layout).get(layers.tag));
    await w.write('example.com/layers:also', await new OciLayout(layers.layout).get(layers.tag));
    await w.write('example.com/multi:arm', await new OciLayout(multi.layout).get(multi.tag));
    await w.close();
    const manifestJson = JSON.parse((await run('tar', ['xOf', f, 'manifest.json'])).stdout) as { RepoTags: string[] }[];
    assert.deepEqual(
      manifestJson.map((e) => e.RepoTags),
      [['example.com/layers:v1', 'example.com/layers:also'], ['example.com/multi:arm']],
    );
    const arm = (await loadTree(await new OciLayout(multi.layout).get(multi.tag))).manifests[1]!;
    for (const [ref, src] of [
      ['example.com/layers:v1', await new OciLayout(layers.layout).get(layers.tag)],
      ['example.com/multi:arm', { ...arm, blobs: new OciLayout(multi.layout).blobs }],
    ] as const) {
      const want = await content(src);
      const sk = JSON.parse((await run('skopeo', ['inspect', `docker-archive:${f}:${ref}`])).stdout) as {
        Layers: string[];
      };
      assert.deepEqual(sk.Layers, want.diffIds, ref);
      const out = dir();
      await run('skopeo', ['copy', '-q', `docker-archive:${f}:${ref}`, `oci:${out}:x`]);
      const copied = await content(await new OciLayout(out).get('x'));
      assert.deepEqual(copied.diffIds, want.diffIds);
      const cfg = async (a: Pick<Artifact, 'manifest' | 'blobs'>) =>
        JSON.parse(
          (
            await readSmallBlob(a.blobs, (JSON.parse(a.manifest.toString()) as { config: Descriptor }).config)
          ).toString(),
        ) as unknown;
      assert.deepEqual(await cfg(await new OciLayout(out).get('x')), await cfg(src));
      assert.equal((await content(await new DockerArchive(f).get(ref))).config, want.config, 'config bytes kept');
    }
    const w2 = new DockerArchiveWriter(join(dir(), 'x.tar'), { platform: { os: 'linux', architecture: 's390x' } });
    await assert.rejects(
      w2.write('m:1', await new OciLayout(multi.layout).get(multi.tag)),
      /no linux\/s390x image in the index sha256:\w+ \(it has: linux\/amd64, linux\/arm64\/v8\); a docker-archive holds single images, choose one with --platform/,
    );
    await w2.close();
  },
);

test(
  'whole-archive gzip and zstd compression is read back (decompressed once, the temporary copy removed on ' + 'close)',
  async () => {
    for (const compression of ['gzip', 'zstd'] as const) {
      const f = join(dir(), `c.tar.${compression}`);
      const w = new DockerArchiveWriter(f, { compression });
      const src = await randomImage({ seed: 70 });
      await w.write('app:v1', src);
      await w.close();
      const head = readFileSync(f).subarray(0, 4);
      assert.equal(
        head.toString('hex').slice(0, compression === 'gzip' ? 4 : 8),
        compression === 'gzip' ? '1f8b' : '28b52ffd',
      );
      const temps = () => readdirSync(tmpdir()).filter((n) => n.startsWith('kura-archive-'));
      const before = new Set(temps());
      const r = new DockerArchive(f);
      const got = await r.get('app:v1');
      await assertComplete(got);
      assert.equal(temps().filter((n) => !before.has(n)).length, 1, 'one decompressed copy');
      await r.close();
      assert.deepEqual(
        temps().filter((n) => !before.has(n)),
        [],
      );
      // skopeo 1.9.3 reads only uncompressed docker-archives ("loading tar component manifest.json: unexpected EOF");
      // docker load reads these.
    }
  },
);

test(
  'unsafe or corrupt archives are refused: an entry outside the root, a symlink out of it, a layer with wrong ' +
    'bytes',
  async () => {
    const evil = file(
      await makeTar([
        { name: 'manifest.json', data: Buffer.from('[]') },
        { name: '../evil', data: Buffer.from('x') },
      ]),
    );
    await assert.rejects(new DockerArchive(evil).get(''), /entry "\.\.\/evil" outside the archive root/);
    const link = file(
      await makeTar([
        { name: 'manifest.json', data: Buffer.from('[]') },
        { name: 'x/layer.tar', type: 'symlink', linkname: '../../etc/passwd' },
      ]),
    );
    await assert.rejects(
      new DockerArchive(link).get(''),
      /link "x\/layer.tar" → "\.\.\/\.\.\/etc\/passwd" pointing outside the archive/,
    );
    const abs = file(
      await makeTar([
        { name: 'manifest.json', data: Buffer.from('[]') },
        { name: 'layer.tar', type: 'symlink', linkname: '/etc/passwd' },
      ]),
    );
    await assert.rejects(new DockerArchive(abs).get(''), /pointing outside the archive/);
    const a = await fixtureImage(8);
    const corrupt = new DockerArchive(file(await legacyArchive([{ img: a, tags: ['app:v1'] }], { corrupt: true })));
    await assert.rejects(
      corrupt.get('app:v1'),
      (e: Error & { code?: string }) => e.code === 'DIGEST_INVALID' && /config says .*corrupt/.test(e.message),
    );
    // Docker 25: a layer blob whose bytes do not hash to its name fails the copy, verified.
    const { tar } = await docker25Archive([{ img: a, tags: ['app:v1'] }]);
    const at = tar.indexOf(a.layers[0]!.blob);
    tar.fill(2, at + 600, at + 700);
    await assert.rejects(
      new OciLayout(dir()).write('x', await new DockerArchive(file(tar)).get('app:v1')),
      (e: Error & { code?: string }) => e.code === 'DIGEST_INVALID',
    );
    await assert.rejects(
      new DockerArchive(file(Buffer.from('not a tar at all, just text'.repeat(40)))).get(''),
      /not a readable tar archive|empty or not a tar/,
    );
    await assert.rejects(
      new DockerArchive(file(await makeTar([{ name: 'hello.txt', data: Buffer.from('hi') }]))).get(''),
      /is not an image archive \(no manifest.json or index.json\); .*kura import/,
    );
    // A root filesystem's absolute symlinks do not hide what it is behind "pointing outside the archive".
    const rootfs = file(
      await makeTar([
        { name: 'bin/sh', data: Buffer.from('#!') },
        { name: 'etc/alternatives/awk', type: 'symlink', linkname: '/usr/bin/mawk' },
      ]),
    );
    await assert.rejects(
      new DockerArchive(rootfs).get(''),
      /is not an image archive \(no manifest.json or index.json\); if it is a root filesystem, make an image of it with kura import/,
    );
  },
);

test('a failed write leaves no FILE and no temporary files behind, and an existing FILE untouched', async () => {
  const good = await randomImage({ seed: 90 });
  const other = await randomImage({ seed: 91 });
  const m = JSON.parse(other.manifest.toString('utf8')) as { layers: Descriptor[] };
  const bad: Artifact = {
    ...other,
    blobs: {
      open: async (d) =>
        d.digest === m.layers[1]!.digest ? Readable.from([Buffer.alloc(d.size, 3)]) : other.blobs.open(d),
    },
  };
  const d = dir();
  const f = join(d, 'out.tar');
  const w = new DockerArchiveWriter(f);
  await assert.rejects(w.write('app:v1', bad), /hash|digest|size/);
  await w.close();
  assert.deepEqual(readdirSync(d), []);
  const ok = new DockerArchiveWriter(f);
  await ok.write('app:v1', good);
  await ok.close();
  const before = readFileSync(f);
  const again = new DockerArchiveWriter(f);
  await again.write('app:v2', good);
  await assert.rejects(again.write('app:v3', bad), /hash|digest|size/);
  await again.close();
  assert.deepEqual(readdirSync(d), ['out.tar']);
  assert.deepEqual(readFileSync(f), before);
  assert.deepEqual(await new DockerArchive(f).tags(), ['docker.io/library/app:v1']);
  await assert.rejects(
    new DockerArchiveWriter(join(d, 'no', 'such', 'a.tar')).write('app:v1', good),
    /the directory .*no\/such does not exist; create it first/,
  );
});

// Each create() makes a new tempDirs directory, removed after the file's tests.
{
  runTransportConformance('docker archive', {
    refs: ['example.com/conf/app:v1', 'example.com/conf/app:v2'],
    keepsDockerFormat: false,
    holdsIndexes: false,
    rewritesManifest: true,
    create: async () => {
      const d = dir();
      const w = new DockerArchiveWriter(join(d, 'image.tar'));
      // The writer only writes; the suite reads through reopen().
      return Object.assign(w, { get: async () => Promise.reject(new Error('write-only')) }) as unknown as Medium;
    },
    reopen: async (m) => {
      const f = (m as unknown as DockerArchiveWriter).file;
      assert.deepEqual(
        readdirSync(join(f, '..')).filter((n) => n !== 'image.tar'),
        [],
        'no temporary files left next to the archive',
      );
      return new DockerArchive(f) as unknown as Medium; // read-only: the suite only reads it
    },
  });
}
