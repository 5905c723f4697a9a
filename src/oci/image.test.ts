import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { Artifact, Platform } from './artifact.js';
import { compress } from './compression.js';
import { digestOf } from './digest.js';
import { OciError } from './errors.js';
import { defaultPlatform, imageSize, isIndex, openImage, openIndex, resolvePlatform } from './image.js';
import { MediaTypes } from './mediatypes.js';
import { formatPlatform } from './platform.js';
import { MemoryBlobs, makeTar, randomImage, randomIndex } from './random.js';

async function collect(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An artifact for a manifest document whose blobs are in `blobs`. */
function artifact(blobs: MemoryBlobs, mediaType: string, doc: object): Artifact {
  const manifest = Buffer.from(JSON.stringify(doc));
  return { descriptor: { mediaType, digest: blobs.put(manifest), size: manifest.length }, manifest, blobs };
}

const rejects = (re: RegExp) => (e: unknown) => e instanceof OciError && re.test(e.message);

test('openImage: manifest, config, layers with diff_ids, and the tar back from uncompressed()', async () => {
  const files = [
    [{ name: 'etc/hello', data: Buffer.from('hello\n') }],
    [{ name: 'etc/world', data: Buffer.from('world\n') }],
  ];
  const a = await randomImage({ seed: 3, files });
  const img = openImage(a);
  assert.equal(img.manifest.layers.length, 2);
  assert.deepEqual(await img.platform(), { os: 'linux', architecture: 'amd64' });
  const layers = await img.layers();
  const config = await img.config();
  assert.deepEqual(
    layers.map((l) => l.diffId),
    config.rootfs.diff_ids,
  );
  for (const [i, l] of layers.entries()) {
    const tar = await collect(await l.uncompressed());
    assert.deepEqual(tar, await makeTar(files[i]!));
    assert.equal(digestOf(tar), l.diffId);
    assert.equal(digestOf(await collect(await l.compressed())), l.descriptor.digest);
  }
  assert.equal(digestOf(await img.rawConfig()), img.manifest.config.digest);
});

test('a layer whose stored bytes are wrong fails its stream with DIGEST_INVALID', async () => {
  const a = await randomImage({ seed: 4 });
  const l = (await openImage(a).layers())[0]!;
  const good = a.blobs.map.get(l.descriptor.digest)!;
  const bad = Buffer.from(good);
  bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 1, bad.length - 1);
  a.blobs.map.set(l.descriptor.digest, bad);
  await assert.rejects(
    async () => collect(await l.compressed()),
    (e: unknown) => e instanceof OciError && e.code === 'DIGEST_INVALID',
  );
});

test('a zstd layer (made by the zstd program) decompresses to its tar', async () => {
  const tar = await makeTar([{ name: 'z/data', data: Buffer.alloc(50_000, 'zstd!') }]);
  const zst = await collect(compress(Readable.from([tar]), 'zstd'));
  assert.deepEqual([...zst.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
  const blobs = new MemoryBlobs();
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(tar)] } }),
  );
  const a = artifact(blobs, MediaTypes.OciManifest, {
    schemaVersion: 2,
    mediaType: MediaTypes.OciManifest,
    config: { mediaType: MediaTypes.OciConfig, digest: blobs.put(config), size: config.length },
    layers: [{ mediaType: MediaTypes.OciLayerZstd, digest: blobs.put(zst), size: zst.length }],
  });
  const [layer] = await openImage(a).layers();
  assert.deepEqual(await collect(await layer!.uncompressed()), tar);
});

test('openImage refuses an index and non-JSON with a clear error; openIndex refuses an image', async () => {
  const idx = await randomIndex({ seed: 5 });
  assert.throws(() => openImage(idx), rejects(/is an index, not an image: pick one of its images \(--platform\)/));
  const img = await randomImage({ seed: 5 });
  assert.throws(() => openIndex(img), rejects(/is not an index/));
  const junk = { ...img, manifest: Buffer.from('not json') };
  assert.throws(() => openImage(junk), rejects(/not JSON/));
  assert.throws(
    () => openImage({ ...img, manifest: Buffer.from('{"schemaVersion":2,"layers":[]}') }),
    rejects(/config: is not a descriptor/),
  );
  assert.equal(isIndex(idx), true);
  assert.equal(isIndex(img), false);
  assert.equal(isIndex(junk), false);
  assert.equal(isIndex(await randomIndex({ seed: 5, format: 'docker' })), true);
});

test('openIndex: entries, verified children, and image(platform)', async () => {
  const a = await randomIndex({ seed: 6 });
  const idx = openIndex(a);
  assert.deepEqual(
    idx.manifests.map((d) => formatPlatform(d.platform!)),
    ['linux/amd64', 'linux/arm64/v8'],
  );
  const child = await idx.child(idx.manifests[1]!);
  assert.equal(digestOf(child.manifest), idx.manifests[1]!.digest);
  const arm = await idx.image({ os: 'linux', architecture: 'arm64' });
  assert.equal(arm.descriptor.digest, idx.manifests[1]!.digest);
  assert.deepEqual(await arm.platform(), { os: 'linux', architecture: 'arm64', variant: 'v8' });
});

test('resolvePlatform picks the host platform by default and names the choices when none fits', async () => {
  const host = defaultPlatform();
  const other: Platform =
    host.architecture === 's390x' ? { os: 'linux', architecture: 'riscv64' } : { os: 'linux', architecture: 's390x' };
  const a = await randomIndex({ seed: 7, platforms: [other, host] });
  const got = await resolvePlatform(a);
  assert.equal(got.descriptor.digest, openIndex(a).manifests[1]!.digest);
  const b = await randomIndex({ seed: 7, attestations: true });
  await assert.rejects(
    resolvePlatform(b, { os: 'linux', architecture: 's390x' }),
    rejects(
      /^no linux\/s390x image in the index sha256:[0-9a-f]{64} \(it has: linux\/amd64, linux\/arm64\/v8\); pick one with --platform$/,
    ),
  );
});

test('resolvePlatform skips attestation entries, even listed first', async () => {
  const src = await randomIndex({ seed: 8, attestations: true });
  const idx = openIndex(src);
  assert.equal(idx.manifests.length, 4);
  const reordered = artifact(src.blobs, MediaTypes.OciIndex, { ...idx.index, manifests: [...idx.manifests].reverse() });
  await assert.rejects(
    resolvePlatform(reordered, { os: 'unknown', architecture: 'unknown' }),
    rejects(/no unknown\/unknown image/),
  );
  const amd = await resolvePlatform(reordered, { os: 'linux', architecture: 'amd64' });
  assert.equal(amd.descriptor.digest, idx.manifests[0]!.digest);
});

test('resolvePlatform returns a plain image as it is, checking its platform only when asked', async () => {
  const a = await randomImage({ seed: 9, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } });
  assert.equal(await resolvePlatform(a), a);
  assert.equal(await resolvePlatform(a, { os: 'linux', architecture: 'arm', variant: 'v6' }), a);
  await assert.rejects(
    resolvePlatform(a, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    rejects(
      /no linux\/arm\/v7 image: .* is a single-platform linux\/arm\/v6 image; pick it with --platform linux\/arm\/v6/,
    ),
  );
});

test('imageSize adds manifest, config and compressed layers; Docker images open too', async () => {
  const a = await randomImage({ seed: 10, format: 'docker', layers: 3 });
  const img = openImage(a);
  const m = JSON.parse(a.manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  const sizeOf = (d: string) => a.blobs.map.get(d as never)!.length;
  assert.equal(
    imageSize(img),
    a.manifest.length + sizeOf(m.config.digest) + m.layers.reduce((n, l) => n + sizeOf(l.digest), 0),
  );
  assert.equal(img.manifest.layers[0]!.mediaType, MediaTypes.DockerLayerGzip);
  assert.equal((await img.layers()).length, 3);
});
