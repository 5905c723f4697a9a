import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { Artifact, BlobReader } from './artifact.js';
import { OverlayBlobs } from './blob.js';
import { digestOf } from './digest.js';
import { OciError } from './errors.js';
import { openImage, openIndex } from './image.js';
import { MediaTypes } from './mediatypes.js';
import {
  appendLayers,
  createIndex,
  filterIndex,
  withAnnotations,
  withConfig,
  withEnv,
  withLabels,
  withPlatform,
  withSubject,
} from './mutate.js';
import { formatPlatform } from './platform.js';
import { MemoryBlobs, makeTar, randomImage, randomIndex } from './random.js';
import { validateArtifact } from './validate.js';

async function collect(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const rejects = (code: OciError['code'], re: RegExp) => (e: unknown) =>
  e instanceof OciError && e.code === code && re.test(e.message);
const config = (a: Artifact) => openImage(a).config();

test('appendLayers (gzip, zstd, none, streamed) yields a valid image with matching diff_ids and history', async () => {
  const a = await randomImage({ seed: 1 });
  const tars = await Promise.all(
    ['a', 'b', 'c', 'd'].map((n) => makeTar([{ name: `add/${n}`, data: Buffer.alloc(3000, n) }])),
  );
  const b = await appendLayers(a, [
    { tar: tars[0]!, history: { created_by: 'COPY a /add/a', empty_layer: true } },
    { tar: tars[1]!, compression: 'zstd' },
    { tar: tars[2]!, compression: 'none', annotations: { 'org.opencontainers.image.title': 'c' } },
    { tar: async () => Readable.from([tars[3]!.subarray(0, 1000), tars[3]!.subarray(1000)]) },
  ]);
  await validateArtifact(b);
  const img = openImage(b);
  assert.deepEqual(
    img.manifest.layers.slice(2).map((l) => l.mediaType),
    [MediaTypes.OciLayerGzip, MediaTypes.OciLayerZstd, MediaTypes.OciLayer, MediaTypes.OciLayerGzip],
  );
  assert.equal(img.manifest.layers[4]!.annotations?.['org.opencontainers.image.title'], 'c');
  const c = await img.config();
  assert.deepEqual(
    c.rootfs.diff_ids.slice(2),
    tars.map((t) => digestOf(t)),
  );
  assert.deepEqual(
    c.history!.slice(3).map((h) => h.created_by ?? h.comment),
    ['COPY a /add/a', 'appended by kura', 'appended by kura', 'appended by kura'],
  );
  assert.equal(c.history![3]!.empty_layer, undefined, 'a layer-making entry is never empty_layer');
  const layers = await img.layers();
  assert.deepEqual(await collect(await layers[3]!.uncompressed()), tars[1]);
  // The source is untouched and still valid.
  assert.equal(openImage(a).manifest.layers.length, 2);
  await validateArtifact(a);
});

test('appendLayers on a Docker manifest uses Docker layer types and refuses zstd', async () => {
  const a = await randomImage({ seed: 2, format: 'docker' });
  const tar = await makeTar([{ name: 'x', data: Buffer.from('x') }]);
  const b = await appendLayers(a, [{ tar }, { tar, compression: 'none' }]);
  await validateArtifact(b);
  assert.equal(b.descriptor.mediaType, MediaTypes.DockerManifest);
  assert.deepEqual(
    openImage(b)
      .manifest.layers.slice(2)
      .map((l) => l.mediaType),
    [MediaTypes.DockerLayerGzip, 'application/vnd.docker.image.rootfs.diff.tar'],
  );
  await assert.rejects(
    appendLayers(a, [{ tar, compression: 'zstd' }]),
    rejects('UNSUPPORTED', /convert the image to OCI/),
  );
  await assert.rejects(
    appendLayers(await randomIndex({ seed: 2 }), [{ tar }]),
    rejects('MANIFEST_INVALID', /is an index, not an image/),
  );
});

test('appendLayers keeps history consistent when the base has none', async () => {
  const base = await withConfig(await randomImage({ seed: 3 }), (c) => ({ ...c, history: undefined }));
  const tar = await makeTar([{ name: 'y', data: Buffer.from('y') }]);
  const plain = await appendLayers(base, [{ tar }]);
  await validateArtifact(plain);
  assert.equal((await config(plain)).history, undefined);
  const created = '2024-01-02T03:04:05Z';
  const told = await appendLayers(base, [{ tar, history: { created_by: 'ADD y' } }], { created });
  await validateArtifact(told);
  assert.deepEqual((await config(told)).history, [{}, {}, { created, created_by: 'ADD y' }]);
  const empty = await randomImage({ seed: 3, layers: 0 });
  const first = await appendLayers(await withConfig(empty, (c) => ({ ...c, history: undefined })), [{ tar }], {
    created,
  });
  assert.deepEqual((await config(first)).history, [{ created, comment: 'appended by kura' }]);
});

test('withConfig, withLabels, withEnv and withPlatform change the config and nothing else', async () => {
  const a = await randomImage({ seed: 4, labels: { keep: '1', drop: '2' } });
  const b = await withConfig(a, (c) => ({ ...c, config: { ...c.config, Cmd: ['/app'] } }));
  const c = await withLabels(b, { added: 'yes', keep: 'changed' }, { remove: ['drop'] });
  const d = await withEnv(c, { SEED: '99', NEW: 'a=b' }, { remove: ['PATH'] });
  const e = await withPlatform(d, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  for (const x of [b, c, d, e]) await validateArtifact(x);
  const cfg = await config(e);
  assert.deepEqual(cfg.config?.Cmd, ['/app']);
  assert.deepEqual(cfg.config?.Labels, { keep: 'changed', added: 'yes' });
  assert.deepEqual(cfg.config?.Env, ['SEED=99', 'NEW=a=b']);
  assert.deepEqual(await openImage(e).platform(), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual((await config(await withPlatform(e, { os: 'linux', architecture: 'amd64' }))).variant, undefined);
  assert.deepEqual(openImage(e).manifest.layers, openImage(a).manifest.layers);
  assert.equal((await config(await withLabels(c, {}, { remove: ['keep', 'added'] }))).config?.Labels, undefined);
  await assert.rejects(
    withConfig(a, (x) => ({ ...x, rootfs: { type: 'layers', diff_ids: [] } })),
    rejects('MANIFEST_INVALID', /0 rootfs.diff_ids for 2 layers: change layers with appendLayers/),
  );
  await assert.rejects(
    withConfig(a, (x) => ({ ...x, os: '' })),
    rejects('MANIFEST_INVALID', /os is missing/),
  );
  // Overlays collapse: one fallback reader however many mutations.
  assert.deepEqual((e.blobs as OverlayBlobs).fallbacks, [a.blobs]);
});

test('withAnnotations and withSubject edit the manifest of an image or an index', async () => {
  const a = await randomImage({ seed: 5 });
  const subject = (await randomImage({ seed: 6 })).descriptor;
  const b = await withSubject(
    await withAnnotations(a, { 'org.opencontainers.image.title': 't', x: '1' }, { remove: ['x'] }),
    subject,
  );
  await validateArtifact(b);
  const m = openImage(b).manifest;
  assert.deepEqual(m.annotations, { 'org.opencontainers.image.title': 't' });
  assert.deepEqual(m.subject, { mediaType: subject.mediaType, digest: subject.digest, size: subject.size });
  assert.equal(m.config.digest, openImage(a).manifest.config.digest);
  assert.equal(openImage(await withSubject(b, undefined)).manifest.subject, undefined);
  const idx = await withAnnotations(await randomIndex({ seed: 5 }), { 'org.opencontainers.image.version': '1.0' });
  await validateArtifact(idx);
  assert.equal(openIndex(idx).index.annotations?.['org.opencontainers.image.version'], '1.0');
});

test('filterIndex keeps matching entries and their attestations only', async () => {
  const a = await randomIndex({
    seed: 7,
    attestations: true,
    platforms: [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ],
  });
  const b = await filterIndex(a, [
    { os: 'linux', architecture: 'arm64' },
    { os: 'linux', architecture: 'arm', variant: 'v6' },
  ]);
  await validateArtifact(b);
  const kept = openIndex(b).manifests;
  assert.deepEqual(
    kept.map((d) => formatPlatform(d.platform!)),
    ['linux/arm64/v8', 'unknown/unknown'],
  );
  assert.equal(kept[1]!.annotations?.['vnd.docker.reference.digest'], kept[0]!.digest);
  await assert.rejects(
    filterIndex(a, [{ os: 'linux', architecture: 's390x' }]),
    rejects(
      'MANIFEST_UNKNOWN',
      /nothing in the index matches linux\/s390x \(has linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7\)/,
    ),
  );
});

/** A blob reader that counts the opens it could not serve (a registry would answer each with a 404). */
function counting(r: BlobReader): BlobReader & { misses: number } {
  const c = {
    misses: 0,
    open: async (d: Parameters<BlobReader['open']>[0]) => {
      try {
        return await r.open(d);
      } catch (e) {
        c.misses++;
        throw e;
      }
    },
  };
  return c;
}

test('createIndex joins images and indexes from separate sources, reading each blob from its own', async () => {
  const amd = await randomImage({ seed: 8 });
  const arm = await randomImage({ seed: 9, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const multi = await randomIndex({
    seed: 10,
    attestations: true,
    platforms: [
      { os: 'linux', architecture: 'ppc64le' },
      { os: 'linux', architecture: 's390x' },
    ],
  });
  const sources = [amd, arm, multi].map((x) => ({ ...x, blobs: counting(x.blobs) }));
  const idx = await createIndex(
    [
      { artifact: sources[0]! },
      { artifact: sources[1]! },
      { artifact: sources[2]!, platform: { os: 'linux', architecture: 's390x' } },
    ],
    { annotations: { 'org.opencontainers.image.version': '2' } },
  );
  await validateArtifact(idx);
  const i = openIndex(idx);
  assert.equal(idx.descriptor.mediaType, MediaTypes.OciIndex);
  assert.deepEqual(
    i.manifests.map((d) => formatPlatform(d.platform!)),
    ['linux/amd64', 'linux/arm64/v8', 'linux/s390x', 'unknown/unknown'],
  );
  assert.equal(i.manifests[0]!.digest, amd.descriptor.digest);
  assert.equal(i.index.annotations?.['org.opencontainers.image.version'], '2');
  assert.deepEqual(
    sources.map((s) => s.blobs.misses),
    [0, 0, 0],
  );
});

test(
  'createIndex: a platform given wins, duplicates are refused, Docker lists stay Docker and ' + 'unannotated',
  async () => {
    const a = await randomImage({ seed: 11, format: 'docker' });
    const b = await randomImage({ seed: 12, format: 'docker' });
    await assert.rejects(
      createIndex([{ artifact: a }, { artifact: b }]),
      rejects(
        'MANIFEST_INVALID',
        /two images for linux\/amd64 \(sha256:\w+ and sha256:\w+\): give each entry its own platform/,
      ),
    );
    const list = await createIndex([{ artifact: a }, { artifact: a }]);
    assert.equal(openIndex(list).manifests.length, 1, 'the same image twice is kept once');
    assert.equal(list.descriptor.mediaType, MediaTypes.DockerManifestList);
    await assert.rejects(
      createIndex([{ artifact: a }], { annotations: { x: '1' } }),
      rejects('UNSUPPORTED', /make an OCI index/),
    );
    const labelled = await createIndex(
      [{ artifact: a }, { artifact: b, platform: { os: 'linux', architecture: 'riscv64' } }],
      { mediaType: 'oci' },
    );
    assert.equal(labelled.descriptor.mediaType, MediaTypes.OciIndex);
    // The entry claims riscv64 but the config says amd64: validate catches the lie.
    await assert.rejects(
      validateArtifact(labelled),
      rejects('MANIFEST_INVALID', /the index says linux\/riscv64 but the image's config says linux\/amd64/),
    );
    const fixed = await createIndex([
      { artifact: a },
      { artifact: await withPlatform(b, { os: 'linux', architecture: 'riscv64' }) },
    ]);
    await validateArtifact(fixed);
  },
);

test('config and manifest fields the types do not name survive every change, value for value', async () => {
  const base = await randomImage({ seed: 30 });
  const blobs = new MemoryBlobs();
  const view = openImage(base);
  const raw = JSON.parse((await collect(await base.blobs.open(view.manifest.config))).toString()) as {
    config: Record<string, unknown>;
  } & Record<string, unknown>;
  const odd = { Nested: [1, { deep: true, ü: null }], n: 1.5e-7 };
  const configBytes = Buffer.from(
    JSON.stringify({ ...raw, future_field: odd, config: { ...raw.config, Tomorrow: odd } }),
  );
  const manifestBytes = Buffer.from(
    JSON.stringify({
      ...view.manifest,
      config: { ...view.manifest.config, digest: blobs.put(configBytes), size: configBytes.length },
      futureManifestField: odd,
    }),
  );
  for (const l of view.manifest.layers) blobs.put(await collect(await base.blobs.open(l)));
  const a: Artifact = {
    descriptor: { ...base.descriptor, digest: digestOf(manifestBytes), size: manifestBytes.length },
    manifest: manifestBytes,
    blobs,
  };
  const tar = await makeTar([{ name: 'z', data: Buffer.from('z') }]);
  let x = await withConfig(a, (c) => ({ ...c, config: { ...c.config, Cmd: ['/new'] } }));
  x = await withLabels(x, { l: '1' });
  x = await appendLayers(x, [{ tar }]);
  x = await withAnnotations(x, { a: 'b' });
  const out = JSON.parse((await collect(await x.blobs.open(openImage(x).manifest.config))).toString()) as {
    future_field: unknown;
    config: { Tomorrow: unknown; Cmd: string[] };
  };
  assert.equal(JSON.stringify(out.future_field), JSON.stringify(odd));
  assert.equal(JSON.stringify(out.config.Tomorrow), JSON.stringify(odd));
  assert.deepEqual(out.config.Cmd, ['/new']);
  const m = JSON.parse(x.manifest.toString()) as { futureManifestField: unknown };
  assert.equal(JSON.stringify(m.futureManifestField), JSON.stringify(odd));
});
