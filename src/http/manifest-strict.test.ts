import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MediaTypes } from '../oci/mediatypes.js';
import {
  assertError,
  content,
  descriptorOf,
  makeImage,
  makeIndex,
  pushBlob,
  pushImage,
  putManifest,
  uniqueRepo,
  type Content,
  type Res,
} from '../test/testkit.js';
import { useMemoryApp } from '../test/memory-app.js';

function assertNamesDescriptor(res: Res, where: string): void {
  assertError(res, 400, 'MANIFEST_INVALID');
  const err = res.json().errors[0];
  assert.equal(err.detail.descriptor, where);
  assert.match(err.message, new RegExp(where.replace(/[[\]]/g, '\\$&')));
}

describe('manifest descriptors must declare the stored size', () => {
  const ts = useMemoryApp();

  function manifestWith(img: ReturnType<typeof makeImage>, sizes: { config?: number; layer?: number }): Content {
    const doc = {
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: descriptorOf(img.config, sizes.config !== undefined ? { size: sizes.config } : {}),
      layers: img.layers.map((l, i) =>
        descriptorOf(l, i === 1 && sizes.layer !== undefined ? { size: sizes.layer } : {}),
      ),
    };
    return content(Buffer.from(JSON.stringify(doc)), MediaTypes.OciManifest);
  }

  test(
    'a layer or config whose size differs from the stored blob is 400 MANIFEST_INVALID naming the ' + 'descriptor',
    async () => {
      const repo = uniqueRepo('strict');
      const img = makeImage({ layers: 2 });
      for (const b of [img.config, ...img.layers]) await pushBlob(ts, repo, b);
      assertNamesDescriptor(
        await putManifest(ts, repo, 'bad-layer', manifestWith(img, { layer: img.layers[1]!.size + 1 })),
        'layers[1]',
      );
      assertNamesDescriptor(
        await putManifest(ts, repo, 'bad-config', manifestWith(img, { config: img.config.size - 1 })),
        'config',
      );
      const ok = await putManifest(ts, repo, 'good', manifestWith(img, {}));
      assert.equal(ok.status, 201, ok.text());
    },
  );

  test('an index child whose size differs from the stored manifest is 400 MANIFEST_INVALID naming it', async () => {
    const repo = uniqueRepo('strict');
    const img = makeImage();
    await pushImage(ts, repo, img);
    const wrong = makeIndex([{ manifest: { ...img.manifest, size: img.manifest.size + 10 } }]);
    assertNamesDescriptor(await putManifest(ts, repo, 'idx', wrong), 'manifests[0]');
    assert.equal((await putManifest(ts, repo, 'idx', makeIndex([{ manifest: img.manifest }]))).status, 201);
  });
});

describe('a refused manifest leaves no bytes', () => {
  const ts = useMemoryApp({ immutability: [{ repositories: ['fixed/**'], tags: ['v1'] }] });

  test('MANIFEST_BLOB_UNKNOWN: the manifest bytes are not kept in blobs/', async () => {
    const repo = uniqueRepo('orphan');
    const img = makeImage();
    await pushBlob(ts, repo, img.config); // the layer is never pushed
    assertError(await putManifest(ts, repo, 'v1', img.manifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal(await ts.stores.blobs.stat(img.manifest.digest), null);
    const report = await ts.registry.fsck();
    assert.deepEqual(report.orphaned, []);
  });

  test('a refused immutable tag keeps no new bytes, and a refusal keeps bytes another row records', async () => {
    const repo = 'fixed/app';
    const first = makeImage();
    await pushImage(ts, repo, first, 'v1');
    const second = makeImage();
    for (const b of [second.config, ...second.layers]) await pushBlob(ts, repo, b);
    assertError(await putManifest(ts, repo, 'v1', second.manifest), 403, 'DENIED');
    assert.equal(await ts.stores.blobs.stat(second.manifest.digest), null);
    // Stored under another tag, then refused for v1: its bytes stay for the row that records them.
    assert.equal((await putManifest(ts, repo, 'v2', second.manifest)).status, 201);
    assertError(await putManifest(ts, repo, 'v1', second.manifest), 403, 'DENIED');
    assert.equal(await ts.stores.blobs.stat(second.manifest.digest), second.manifest.size);
    assert.equal((await ts.req('GET', `/v2/${repo}/manifests/v2`)).status, 200);
  });
});
