import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../test/testkit.js';
import type { Descriptor } from '../oci/artifact.js';
import { parseImageConfig } from '../oci/config.js';
import { randomImage, randomIndex } from '../oci/random.js';
import { loadTestImages, makeTestImages, type TestImage } from '../test/kura-process.js';
import { OciLayout } from '../transports/layout/index.js';
import { RegistryClient, RegistryRepository } from '../transports/registry/index.js';
import { dockerInspect, historyRows, humanDuration, humanSize, imageHistory, manifestInspect } from './inspect.js';
import { resolveImage } from './resolve.js';

const manifestOf = (b: Buffer) => JSON.parse(b.toString()) as { config: Descriptor; layers: Descriptor[] };

test('docker inspect of an image: docker’s keys in docker’s order, values from the config', async () => {
  const img = await randomImage({
    labels: { 'org.opencontainers.image.version': '1.2.3' },
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  });
  const r = await resolveImage(img);
  const out = dockerInspect(r, {
    repoTags: ['example.com/app:1'],
    repoDigests: [`example.com/app@${img.descriptor.digest}`],
  });
  const m = manifestOf(img.manifest);
  const config = parseImageConfig(img.blobs.map.get(m.config.digest)!);
  assert.deepEqual(Object.keys(out), [
    'Id',
    'RepoTags',
    'RepoDigests',
    'Parent',
    'Comment',
    'Created',
    'Author',
    'Config',
    'Architecture',
    'Variant',
    'Os',
    'Size',
    'RootFS',
    'Metadata',
    'Descriptor',
  ]);
  assert.deepEqual(Object.keys(out.Config as object), [
    'Hostname',
    'Domainname',
    'User',
    'AttachStdin',
    'AttachStdout',
    'AttachStderr',
    'Tty',
    'OpenStdin',
    'StdinOnce',
    'Env',
    'Cmd',
    'Image',
    'Volumes',
    'WorkingDir',
    'Entrypoint',
    'OnBuild',
    'Labels',
  ]);
  assert.equal(out.Id, m.config.digest);
  assert.equal(out.Created, config.created);
  assert.equal(out.Architecture, 'arm64');
  assert.equal(out.Variant, 'v8');
  assert.equal(out.Size, m.layers[0]!.size + m.layers[1]!.size);
  assert.deepEqual(out.RootFS, { Type: 'layers', Layers: config.rootfs.diff_ids });
  const cc = out.Config as Record<string, unknown>;
  assert.deepEqual(cc.Env, config.config!.Env);
  assert.deepEqual(cc.Cmd, ['/bin/sh']);
  assert.equal(cc.Entrypoint, null);
  assert.deepEqual(cc.Labels, { 'org.opencontainers.image.version': '1.2.3' });
  assert.deepEqual(out.Descriptor, {
    mediaType: img.descriptor.mediaType,
    digest: img.descriptor.digest,
    size: img.descriptor.size,
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  });
});

test('an index resolves to the asked platform; an absent platform names the ones there are and the flag', async () => {
  const idx = await randomIndex();
  const arm = await resolveImage(idx, { os: 'linux', architecture: 'arm64' });
  assert.equal(arm.config.architecture, 'arm64');
  assert.equal(arm.entry!.platform!.variant, 'v8');
  assert.equal((dockerInspect(arm).Descriptor as Descriptor).digest, idx.descriptor.digest);
  await assert.rejects(
    resolveImage(idx, { os: 'linux', architecture: 's390x' }),
    /no linux\/s390x image in the index sha256:\w+ \(it has: linux\/amd64, linux\/arm64\/v8\); pick one with --platform/,
  );
  const single = await randomImage();
  await assert.rejects(
    resolveImage(single, { os: 'windows', architecture: 'amd64' }),
    /no windows\/amd64 image: sha256:\w+ is a single-platform linux\/amd64 image; pick it with --platform linux\/amd64$/,
  );
});

test(
  'history: newest first, the image ID on top and <missing> below, sizes per layer, docker’s truncation and ' +
    'human forms',
  async () => {
    const img = await randomImage({ layerSize: 3000 });
    const r = await resolveImage(img);
    const items = imageHistory(r);
    const m = manifestOf(img.manifest);
    assert.deepEqual(
      items.map((i) => [i.id, i.emptyLayer, i.size]),
      [
        [m.config.digest, true, 0],
        [undefined, false, m.layers[1]!.size],
        [undefined, false, m.layers[0]!.size],
      ],
    );
    const now = new Date(Date.parse(r.config.created!) + 22 * 24 * 3600 * 1000);
    const rows = historyRows(items, { now });
    const { CreatedAt, ...rest } = rows[0]!;
    assert.deepEqual(rest, {
      ID: m.config.digest.slice(7, 19),
      CreatedSince: '3 weeks ago',
      CreatedBy: '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
      Size: '0B',
      Comment: '',
    });
    // docker's form: RFC 3339 to the second, from the history entry's time.
    assert.match(CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Math.abs(Date.parse(CreatedAt) - Date.parse(items[0]!.created!)) < 1000, CreatedAt);
    assert.equal(rows[1]!.ID, '<missing>');
    assert.equal(rows[1]!.Size, humanSize(m.layers[1]!.size));
    const long = historyRows([{ createdBy: 'x'.repeat(50), comment: '', emptyLayer: true, size: 1234 }]);
    assert.equal(long[0]!.CreatedBy, 'x'.repeat(44) + '…');
    const raw = historyRows(items, { human: false, trunc: false });
    assert.equal(raw[0]!.ID, m.config.digest);
    assert.match(raw[0]!.CreatedSince, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(raw[1]!.Size, String(m.layers[1]!.size));
  },
);

test('docker’s human durations and sizes', () => {
  const s = 1000;
  const h = 3600 * s;
  assert.deepEqual(
    [0.5 * s, s, 30 * s, 61 * s, 10 * 60 * s, 1.2 * h, 47 * h, 3 * 24 * h, 22 * 24 * h, 90 * 24 * h, 800 * 24 * h].map(
      humanDuration,
    ),
    [
      'Less than a second',
      '1 second',
      '30 seconds',
      'About a minute',
      '10 minutes',
      'About an hour',
      '47 hours',
      '3 days',
      '3 weeks',
      '3 months',
      '2 years',
    ],
  );
  assert.deepEqual(
    [0, 512, 1000, 1049, 12288, 3623807, 7.8e9, 999.9].map((n) => humanSize(n)),
    ['0B', '512B', '1kB', '1.05kB', '12.3kB', '3.62MB', '7.8GB', '1e+03B'],
  );
});

test(
  'manifest inspect: the manifest re-indented with tabs; --verbose per index entry with Raw bytes and ' + 'sizes',
  async () => {
    const idx = await randomIndex({ format: 'docker' });
    assert.equal(await manifestInspect(idx), JSON.stringify(JSON.parse(idx.manifest.toString()), null, '\t'));
    const verbose = JSON.parse(await manifestInspect(idx, { verbose: true, ref: 'example.com/app:1' })) as Record<
      string,
      unknown
    >[];
    assert.equal(verbose.length, 2);
    const entries = (JSON.parse(idx.manifest.toString()) as { manifests: Descriptor[] }).manifests;
    verbose.forEach((v, i) => {
      assert.deepEqual(Object.keys(v), ['Ref', 'Descriptor', 'Raw', 'SchemaV2Manifest', 'CompressedSize']);
      assert.equal(v.Ref, `example.com/app:1@${entries[i]!.digest}`);
      assert.deepEqual(v.Descriptor, entries[i]);
      const raw = Buffer.from(v.Raw as string, 'base64');
      assert.equal(raw.equals(idx.blobs.map.get(entries[i]!.digest)!), true);
      assert.equal(
        v.CompressedSize,
        manifestOf(raw).layers.reduce((n, l) => n + l.size, 0),
      );
    });
    const one = await randomImage();
    const single = JSON.parse(await manifestInspect(one, { verbose: true, ref: 'x' })) as Record<string, unknown>;
    assert.deepEqual(Object.keys(single), ['Ref', 'Descriptor', 'Raw', 'OCIManifest', 'CompressedSize']);
    assert.deepEqual((single.Descriptor as Descriptor).platform, { os: 'linux', architecture: 'amd64' });
  },
);

let images: Map<string, TestImage>;
let ts: TestServer;
before(async () => {
  images = await loadTestImages(await makeTestImages());
  ts = await startTestServer();
});
after(() => ts.close());

test(
  'inspect and history of the test images, from an OCI layout and through a registry, agree with their ' + 'configs',
  async () => {
    const reg = (repo: string) => new RegistryRepository(new RegistryClient({ registry: new URL(ts.url).host }), repo);
    for (const name of ['tiny', 'layers', 'multiarch']) {
      const img = images.get(name)!;
      const layout = new OciLayout(img.layout);
      await reg(`inspect/${name}`).write(img.tag, await layout.get(img.tag));
      for (const source of [layout, reg(`inspect/${name}`)]) {
        const r = await resolveImage(await source.get(img.tag), { os: 'linux', architecture: 'amd64' });
        const config = parseImageConfig(
          readFileSync(join(img.layout, 'blobs', 'sha256', r.image.manifest.config.digest.slice(7))),
        );
        const out = dockerInspect(r);
        assert.equal(out.Id, r.image.manifest.config.digest);
        assert.equal(out.Architecture, config.architecture);
        assert.deepEqual((out.RootFS as { Layers: string[] }).Layers, config.rootfs.diff_ids);
        assert.deepEqual((out.Config as { Cmd: unknown }).Cmd, config.config?.Cmd ?? null);
        assert.equal((out.Descriptor as Descriptor).digest, img.digest);
        const items = imageHistory(r);
        assert.equal(items.length, config.history?.length || r.layers.length, name);
        assert.equal(items.filter((i) => !i.emptyLayer).length, r.layers.length, name);
      }
    }
  },
);
