// Metadata conformance, the web UI's listings: tags with their manifests, manifest sizes with index children.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Digest } from '../../oci/digest.js';
import { blob, currentStore, INDEX, manifest, pusher, type Ctx } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function browseSuite(ctx: Ctx): void {
  const store = currentStore(ctx);
  const push = pusher(store);

  describe('manifests.tagDetails', () => {
    test('null for an unknown repository, [] for one without tags', async () => {
      assert.equal(await store.manifests.tagDetails('nowhere'), null);
      await push(manifest('app', 'untagged'));
      assert.deepEqual(await store.manifests.tagDetails('app'), []);
    });

    test('every tag with its digest, media type, artifact type and last pull', async () => {
      const a = manifest('app', 'a', { artifactType: 'application/x.thing' });
      const b = manifest('app', 'b');
      await push(a, ['one', 'two']);
      await push(b, ['three']);
      await push(manifest('other', 'c'), ['elsewhere']);
      await store.manifests.recordPulls([{ repo: 'app', digest: b.digest, at: 1_700_000_123_000 }]);
      const rows = (await store.manifests.tagDetails('app'))!.sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(
        rows.map((r) => [r.name, r.digest, r.mediaType, r.artifactType, r.pulledAt]),
        [
          ['one', a.digest, a.mediaType, 'application/x.thing', null],
          ['three', b.digest, b.mediaType, null, 1_700_000_123_000],
          ['two', a.digest, a.mediaType, 'application/x.thing', null],
        ],
      );
      for (const r of rows) assert.ok(r.pushedAt > 0, `${r.name} has a push time`);
    });
  });

  describe('manifests.tagList', () => {
    test('null for an unknown repository, [] without tags, else every tag with its digest and push time', async () => {
      assert.equal(await store.manifests.tagList('nowhere'), null);
      const a = manifest('app', 'a');
      await push(a);
      assert.deepEqual(await store.manifests.tagList('app'), []);
      const b = manifest('app', 'b');
      await push(a, ['one', 'two']);
      await push(b, ['three']);
      await push(manifest('other', 'c'), ['elsewhere']);
      const rows = (await store.manifests.tagList('app'))!.sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(
        rows.map((r) => [r.name, r.digest]),
        [
          ['one', a.digest],
          ['three', b.digest],
          ['two', a.digest],
        ],
      );
      const details = new Map((await store.manifests.tagDetails('app'))!.map((t) => [t.name, t.pushedAt]));
      for (const r of rows) assert.equal(r.pushedAt, details.get(r.name), `${r.name}: the push time tagDetails gives`);
      for (const r of rows) assert.deepEqual(Object.keys(r).sort(), ['digest', 'name', 'pushedAt']);
    });
  });

  describe('manifests.sizes', () => {
    test('own size plus referenced blobs; index children as rows with their parent; unknown left out', async () => {
      const x = manifest('app', 'x');
      const y = manifest('app', 'y');
      await push(x, [], [blob('x1'), blob('x2')]);
      await push(y, [], [blob('y1'), blob('x1')]);
      const idx = manifest('app', 'idx', { mediaType: INDEX });
      const put = await store.manifests.put(idx, { blobs: [], manifests: [x.digest, y.digest] }, ['multi']);
      assert.deepEqual(put, { missing: [] });
      await store.manifests.recordPulls([{ repo: 'app', digest: x.digest, at: 1_700_000_456_000 }]);
      const unknown = manifest('app', 'nope').digest;
      const rows = await store.manifests.sizes('app', [idx.digest, x.digest, unknown, idx.digest]);
      const key = (r: { digest: Digest; parent: Digest | null }) => `${r.parent ?? '-'} ${r.digest}`;
      const got = new Map(rows.map((r) => [key(r), r]));
      assert.equal(rows.length, 4, JSON.stringify(rows));
      assert.deepEqual(got.get(`- ${idx.digest}`), {
        digest: idx.digest,
        parent: null,
        mediaType: INDEX,
        artifactType: null,
        size: idx.size,
        blobBytes: 0,
        pulledAt: null,
      });
      // pusher links blobs with size 10.
      assert.equal(got.get(`${idx.digest} ${x.digest}`)?.blobBytes, 20);
      assert.equal(got.get(`${idx.digest} ${y.digest}`)?.blobBytes, 20);
      assert.equal(got.get(`- ${x.digest}`)?.size, x.size);
      assert.equal(got.get(`- ${x.digest}`)?.pulledAt, 1_700_000_456_000, 'the last pull comes along');
      assert.deepEqual(await store.manifests.sizes('nowhere', [x.digest]), []);
      assert.deepEqual(await store.manifests.sizes('app', []), []);
    });
  });
}
