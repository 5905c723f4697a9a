import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { Artifact, Descriptor } from './artifact.js';
import type { ImageConfig } from './config.js';
import { digestOf, type Digest } from './digest.js';
import { OciError } from './errors.js';
import type { ImageManifest, IndexManifest } from './manifest.js';
import { MediaTypes } from './mediatypes.js';
import { randomImage, randomIndex, type MemoryArtifact } from './random.js';
import { validateArtifact } from './validate.js';

/** The image with its manifest and config edited by hand (blobs stay in the same store). */
function edit(a: MemoryArtifact, m: (m: ImageManifest, c: ImageConfig) => void): MemoryArtifact {
  const manifest = JSON.parse(a.manifest.toString()) as ImageManifest;
  const config = JSON.parse(a.blobs.map.get(manifest.config.digest)!.toString()) as ImageConfig;
  m(manifest, config);
  const cb = Buffer.from(JSON.stringify(config));
  manifest.config = { ...manifest.config, digest: a.blobs.put(cb), size: cb.length };
  const mb = Buffer.from(JSON.stringify(manifest));
  return {
    descriptor: { mediaType: a.descriptor.mediaType, digest: a.blobs.put(mb), size: mb.length },
    manifest: mb,
    blobs: a.blobs,
  };
}

function editIndex(a: MemoryArtifact, m: (m: IndexManifest) => void): Artifact {
  const doc = JSON.parse(a.manifest.toString()) as IndexManifest;
  m(doc);
  const mb = Buffer.from(JSON.stringify(doc));
  return {
    descriptor: { mediaType: a.descriptor.mediaType, digest: a.blobs.put(mb), size: mb.length },
    manifest: mb,
    blobs: a.blobs,
  };
}

function chunks(b: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
}

function fails(code: OciError['code'], re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof OciError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  };
}

test('valid images and indexes pass: OCI, Docker, uncompressed, with attestations', async () => {
  await validateArtifact(await randomImage({ seed: 1 }));
  await validateArtifact(await randomImage({ seed: 2, format: 'docker', layers: 3 }));
  await validateArtifact(await randomImage({ seed: 3, compression: 'none', layers: 0 }));
  const plainDocker = await randomImage({ seed: 4, format: 'docker', compression: 'none', layers: 2 });
  await validateArtifact(plainDocker);
  const layerTypes = (JSON.parse(plainDocker.manifest.toString('utf8')) as ImageManifest).layers.map(
    (l) => l.mediaType,
  );
  assert.deepEqual(layerTypes, [MediaTypes.DockerLayer, MediaTypes.DockerLayer]);
  await validateArtifact(await randomIndex({ seed: 4, attestations: true }));
  await validateArtifact(await randomIndex({ seed: 5, format: 'docker' }), { layers: false });
});

test('a wrong diff_id is named with its layer, expected and got', async () => {
  const a = await randomImage({ seed: 6 });
  const wrong = digestOf('not the tar');
  const bad = edit(a, (_, c) => (c.rootfs.diff_ids[1] = wrong));
  await assert.rejects(
    validateArtifact(bad),
    fails(
      'DIGEST_INVALID',
      new RegExp(
        `layer 1 \\(sha256:[0-9a-f]+\\): the uncompressed layer hashes to sha256:[0-9a-f]+ but the config's ` +
          `rootfs.diff_ids says ${wrong}`,
      ),
    ),
  );
  await validateArtifact(bad, { layers: false });
});

test('a blob with wrong bytes is caught as such, even where they break the decompressor first', async () => {
  const a = await randomImage({ seed: 7, layerSize: 1 << 18 });
  const l = (JSON.parse(a.manifest.toString()) as ImageManifest).layers[0]!;
  const good = a.blobs.map.get(l.digest)!;
  for (const at of [10, 20, good.length - 6]) {
    const b = Buffer.from(good);
    b.writeUInt8(b.readUInt8(at) ^ 0xff, at);
    a.blobs.map.set(l.digest, b);
    // Served in small chunks, as from a socket, so the decompressor sees the damage before the end.
    const chunked: Artifact = {
      ...a,
      blobs: { open: async (d) => Readable.from(chunks(a.blobs.map.get(d.digest)!, 4096)) },
    };
    for (const layers of [true, false]) {
      await assert.rejects(
        validateArtifact(chunked, { layers }),
        fails('DIGEST_INVALID', new RegExp(`layer 0 \\(${l.digest}\\): blob ${l.digest}: the bytes hash to`)),
        `byte ${at}`,
      );
    }
  }
});

test('manifest bytes that do not match the descriptor are caught', async () => {
  const a = await randomImage({ seed: 8 });
  await assert.rejects(
    validateArtifact({ ...a, descriptor: { ...a.descriptor, digest: digestOf('x') } }),
    fails('DIGEST_INVALID', /the manifest bytes hash to/),
  );
  await assert.rejects(
    validateArtifact({ ...a, descriptor: { ...a.descriptor, size: 1 } }),
    fails('SIZE_INVALID', /its descriptor says 1/),
  );
  await assert.rejects(
    validateArtifact({ ...a, descriptor: { ...a.descriptor, mediaType: 'text/plain' } }),
    fails('MANIFEST_INVALID', /neither an image manifest nor an index/),
  );
});

test('layer-count and history-count mismatches are caught', async () => {
  const a = await randomImage({ seed: 9 });
  const dropped = edit(a, (m) => m.layers.pop());
  await assert.rejects(
    validateArtifact(dropped),
    fails('MANIFEST_INVALID', /config has 2 rootfs.diff_ids but the manifest has 1 layers/),
  );
  const history = edit(a, (_, c) => c.history!.push({ created_by: 'RUN x' }));
  await assert.rejects(
    validateArtifact(history),
    fails('MANIFEST_INVALID', /history has 3 entries that made a layer .* manifest has 2 layers/),
  );
  const noHistory = edit(a, (_, c) => delete c.history);
  await validateArtifact(noHistory);
});

test('a layer media type that lies about compression, and a bad config, are caught', async () => {
  const a = await randomImage({ seed: 10 });
  const zstd = edit(a, (m) => (m.layers[0]!.mediaType = MediaTypes.OciLayerZstd));
  await assert.rejects(
    validateArtifact(zstd),
    fails('MANIFEST_INVALID', /layer 0 .*: the blob is gzip but its media type .*\+zstd says zstd/),
  );
  const noOs = edit(a, (_, c) => ((c as { os?: string }).os = undefined));
  await assert.rejects(
    validateArtifact(noOs),
    fails('MANIFEST_INVALID', /config sha256:[0-9a-f]+: image config invalid: os is missing/),
  );
  const dockerOci = edit(
    await randomImage({ seed: 10, format: 'docker' }),
    (m) => (m.config.mediaType = MediaTypes.OciConfig),
  );
  await assert.rejects(validateArtifact(dockerOci), fails('MANIFEST_INVALID', /a Docker manifest's config must be/));
});

test('an index entry whose platform differs from its image config is caught', async () => {
  const a = await randomIndex({ seed: 11 });
  const swapped = editIndex(a, (m) => {
    const [x, y] = m.manifests as [Descriptor, Descriptor];
    [x.platform, y.platform] = [y.platform, x.platform];
  });
  await assert.rejects(
    validateArtifact(swapped),
    fails(
      'MANIFEST_INVALID',
      /manifests\[0\] sha256:[0-9a-f]+: the index says linux\/arm64\/v8 but the image's config says linux\/amd64/,
    ),
  );
});

test('a broken child of an index is named by its position', async () => {
  const a = await randomIndex({ seed: 12 });
  const child = (JSON.parse(a.manifest.toString()) as IndexManifest).manifests[1]!;
  const layer = (JSON.parse(a.blobs.map.get(child.digest)!.toString()) as ImageManifest).layers[1]!;
  a.blobs.map.delete(layer.digest as Digest);
  await assert.rejects(
    validateArtifact(a),
    fails('BLOB_UNKNOWN', new RegExp(`manifests\\[1\\] ${child.digest} layer 1 \\(${layer.digest}\\): no blob`)),
  );
});
