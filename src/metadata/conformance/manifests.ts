// Metadata conformance, manifests: put, tags and deletion, retention support.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import {
  blob,
  currentStore,
  INDEX,
  manifest,
  NO_REFS,
  pusher,
  runSuites,
  type Ctx,
  type StoreFactory,
} from './fixtures.js';
import { listingSuite } from './listings.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function manifestSuite(ctx: Ctx): void {
  const store = currentStore(ctx);
  const push = pusher(store);

  describe('manifests.put', () => {
    test('stores the record, tags it and records the manifest as a blob of the repository', async () => {
      const config = blob('config');
      const layer = blob('layer');
      const rec = manifest('app', 'm1', { annotations: { 'org.example.k': 'v' } });
      await push(rec, ['latest', 'v1'], [config, layer]);
      assert.deepEqual(await store.manifests.get('app', rec.digest), rec);
      assert.deepEqual(await store.manifests.resolveTag('app', 'latest'), rec);
      assert.deepEqual(await store.manifests.resolveTag('app', 'v1'), rec);
      assert.equal(await store.blobs.get('app', rec.digest), rec.size);
      assert.equal(await store.blobs.getGlobal(rec.digest), rec.size);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['latest', 'v1']);
    });

    test('round-trips every field, null and non-null', async () => {
      const subject = digestOf('subject');
      const full = manifest('app', 'full', {
        mediaType: INDEX,
        artifactType: 'application/vnd.example.sbom',
        subject,
        annotations: { a: '1', 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', empty: '' },
        createdAt: 1_234_567_890_123,
      });
      const empty = manifest('app', 'empty-annotations', { annotations: {} });
      const bare = manifest('app', 'bare');
      for (const rec of [full, empty, bare]) {
        await push(rec);
        assert.deepEqual(await store.manifests.get('app', rec.digest), rec);
      }
    });

    test('a manifest with no tags is reachable by digest only', async () => {
      const rec = manifest('app', 'untagged');
      await push(rec);
      assert.deepEqual(await store.manifests.get('app', rec.digest), rec);
      assert.deepEqual(await store.manifests.listTags('app', {}), []);
      assert.equal(await store.manifests.get('other', rec.digest), null);
    });

    test('missing references: deduplicated, in input order, blobs then manifests, nothing written', async () => {
      const linked = blob('linked');
      const elsewhere = blob('elsewhere');
      const absent = blob('absent');
      const childHere = manifest('app', 'child-here');
      const childElsewhere = manifest('other', 'child-elsewhere');
      await store.blobs.add('app', linked, 1);
      await store.blobs.add('other', elsewhere, 1);
      await push(childHere);
      await push(childElsewhere);

      const rec = manifest('app', 'index', { mediaType: INDEX });
      const result = await store.manifests.put(
        rec,
        {
          blobs: [absent, linked, elsewhere, absent],
          // childHere is a manifest (and a blob) here; a blob digest is not a manifest.
          manifests: [childElsewhere.digest, childHere.digest, linked, elsewhere, childElsewhere.digest],
        },
        ['latest'],
      );
      assert.deepEqual(result, { missing: [absent, elsewhere, childElsewhere.digest, linked] });
      assert.equal(await store.manifests.get('app', rec.digest), null);
      assert.equal(await store.manifests.resolveTag('app', 'latest'), null);
      assert.deepEqual(await store.manifests.listTags('app', {}), []);
      assert.equal(await store.blobs.get('app', rec.digest), null);
      assert.equal(await store.blobs.getGlobal(rec.digest), null);
    });

    test('a rejected manifest does not create its repository', async () => {
      const rec = manifest('fresh', 'm');
      const missing = [blob('x')];
      assert.deepEqual(await store.manifests.put(rec, { blobs: missing, manifests: [] }, ['t']), { missing });
      assert.deepEqual(await store.manifests.listRepositories({}), []);
      assert.equal(await store.manifests.listTags('fresh', {}), null);
    });

    test('a manifest without references creates its repository', async () => {
      const rec = manifest('fresh', 'm');
      assert.deepEqual(await store.manifests.put(rec, NO_REFS, ['t']), { missing: [] });
      assert.deepEqual(await store.manifests.listRepositories({}), ['fresh']);
      assert.deepEqual(await store.manifests.listTags('fresh', {}), ['t']);
    });

    test('an index may reference manifests of its repository', async () => {
      const a = manifest('app', 'amd64');
      const b = manifest('app', 'arm64');
      await push(a);
      await push(b);
      const index = manifest('app', 'index', { mediaType: INDEX });
      const refs = { blobs: [], manifests: [a.digest, b.digest] };
      assert.deepEqual(await store.manifests.put(index, refs, ['latest']), { missing: [] });
      assert.deepEqual(await store.manifests.resolveTag('app', 'latest'), index);
    });

    test('a blob ref may name a manifest, since manifests are recorded as blobs', async () => {
      const child = manifest('app', 'child');
      await push(child);
      const rec = manifest('app', 'parent');
      assert.deepEqual(await store.manifests.put(rec, { blobs: [child.digest], manifests: [] }, []), { missing: [] });
    });

    test('re-putting a digest keeps the original createdAt and adds tags', async () => {
      const layer = blob('layer');
      const rec = manifest('app', 'm', { createdAt: 1000 });
      await push(rec, ['one'], [layer]);
      await push({ ...rec, createdAt: 2000 }, ['two'], [layer]);
      assert.deepEqual(await store.manifests.get('app', rec.digest), rec);
      assert.deepEqual(await store.manifests.resolveTag('app', 'two'), rec);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['one', 'two']);
    });

    test('putting a tag that points elsewhere moves it', async () => {
      const m1 = manifest('app', 'm1');
      const m2 = manifest('app', 'm2');
      await push(m1, ['latest', 'stable']);
      await push(m2, ['latest']);
      assert.deepEqual(await store.manifests.resolveTag('app', 'latest'), m2);
      assert.deepEqual(await store.manifests.resolveTag('app', 'stable'), m1);
      assert.deepEqual(await store.manifests.get('app', m1.digest), m1);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['latest', 'stable']);
    });

    test('the same digest in two repositories is two independent records', async () => {
      const a = manifest('one', 'shared', { createdAt: 1 });
      const b = { ...a, repo: 'two', createdAt: 2 };
      await push(a, ['x']);
      await push(b, ['y']);
      assert.deepEqual(await store.manifests.get('one', a.digest), a);
      assert.deepEqual(await store.manifests.get('two', a.digest), b);
      assert.equal(await store.manifests.resolveTag('one', 'y'), null);
      assert.ok(await store.manifests.delete('one', a.digest));
      assert.deepEqual(await store.manifests.resolveTag('two', 'y'), b);
    });

    test('concurrent puts of one digest under two tags both succeed', async () => {
      const layer = blob('layer');
      await store.blobs.add('app', layer, 10);
      const rec = manifest('app', 'm');
      const refs = { blobs: [layer], manifests: [] };
      const results = await Promise.all([
        store.manifests.put(rec, refs, ['a']),
        store.manifests.put({ ...rec }, refs, ['b']),
      ]);
      assert.deepEqual(results, [{ missing: [] }, { missing: [] }]);
      assert.deepEqual(await store.manifests.resolveTag('app', 'a'), rec);
      assert.deepEqual(await store.manifests.resolveTag('app', 'b'), rec);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['a', 'b']);
    });

    test('returned records are copies', async () => {
      const rec = manifest('app', 'm', { annotations: { k: 'v' } });
      const input = structuredClone(rec);
      await store.manifests.put(input, NO_REFS, ['t']);
      input.annotations!['k'] = 'changed by caller';
      const got = await store.manifests.get('app', rec.digest);
      assert.deepEqual(got, rec);
      got!.annotations!['k'] = 'changed by reader';
      got!.size = 1;
      assert.deepEqual(await store.manifests.resolveTag('app', 't'), rec);
    });
  });

  describe('deletion', () => {
    test('manifests.delete removes the manifest and every tag pointing at it, nothing else', async () => {
      const m1 = manifest('app', 'm1');
      const m2 = manifest('app', 'm2');
      await push(m1, ['a', 'b']);
      await push(m2, ['c']);
      assert.equal(await store.manifests.delete('app', m1.digest), true);
      assert.equal(await store.manifests.get('app', m1.digest), null);
      assert.equal(await store.manifests.resolveTag('app', 'a'), null);
      assert.equal(await store.manifests.resolveTag('app', 'b'), null);
      assert.deepEqual(await store.manifests.resolveTag('app', 'c'), m2);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['c']);
      assert.equal(await store.manifests.delete('app', m1.digest), false);
      assert.equal(await store.manifests.delete('nowhere', m2.digest), false);
    });

    test('a deleted manifest no longer satisfies manifest refs, and can be pushed again', async () => {
      const layer = blob('layer');
      const child = manifest('app', 'child', { createdAt: 1 });
      await push(child, ['c'], [layer]);
      assert.ok(await store.manifests.delete('app', child.digest));
      const index = manifest('app', 'index', { mediaType: INDEX });
      const refs = { blobs: [], manifests: [child.digest] };
      assert.deepEqual(await store.manifests.put(index, refs, []), { missing: [child.digest] });
      // Re-pushing must not trip over refs left behind by the deleted row.
      const again = { ...child, createdAt: 2 };
      await push(again, ['c'], [layer]);
      assert.deepEqual(await store.manifests.resolveTag('app', 'c'), again);
      assert.deepEqual(await store.manifests.put(index, refs, []), { missing: [] });
    });

    test('manifests.deleteTag removes only the tag', async () => {
      const m = manifest('app', 'm');
      await push(m, ['a', 'b']);
      assert.equal(await store.manifests.deleteTag('app', 'a'), true);
      assert.equal(await store.manifests.deleteTag('app', 'a'), false);
      assert.equal(await store.manifests.deleteTag('nowhere', 'b'), false);
      assert.equal(await store.manifests.resolveTag('app', 'a'), null);
      assert.deepEqual(await store.manifests.resolveTag('app', 'b'), m);
      assert.deepEqual(await store.manifests.get('app', m.digest), m);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['b']);
    });

    test('deleting every manifest leaves the repository listed with no tags', async () => {
      const m = manifest('app', 'm');
      await push(m, ['a']);
      await store.manifests.delete('app', m.digest);
      assert.deepEqual(await store.manifests.listTags('app', {}), []);
      assert.deepEqual(await store.manifests.listRepositories({}), ['app']);
    });
  });

  describe('retention and immutability support', () => {
    test('a fixed tag may be created and re-put on the same digest, never moved', async () => {
      const a = manifest('r', 'fixed-a');
      const b = manifest('r', 'fixed-b');
      assert.deepEqual(await store.manifests.put(a, NO_REFS, ['v1', 'latest'], ['v1']), { missing: [] });
      assert.deepEqual(await store.manifests.put(a, NO_REFS, ['v1'], ['v1']), { missing: [] });
      const refused = await store.manifests.put(b, NO_REFS, ['v1', 'latest'], ['v1']);
      assert.deepEqual(refused, { missing: [], refused: ['v1'] });
      // Nothing was written: not the manifest, not the movable tag.
      assert.equal(await store.manifests.get('r', b.digest), null);
      assert.equal((await store.manifests.resolveTag('r', 'latest'))?.digest, a.digest);
      assert.deepEqual(await store.manifests.put(b, NO_REFS, ['latest'], ['v1']), { missing: [] });
      assert.equal((await store.manifests.resolveTag('r', 'latest'))?.digest, b.digest);
    });

    test('snapshots list tags with push times and manifests with pulls and subjects', async () => {
      const before = Date.now();
      const a = manifest('r', 'snap-a');
      const ref = manifest('r', 'snap-ref', { subject: a.digest, artifactType: 'application/x-sig' });
      await store.manifests.put(a, NO_REFS, ['one', 'two']);
      await store.manifests.put(ref, NO_REFS, []);
      await store.manifests.recordPulls([
        { repo: 'r', digest: a.digest, at: 5000 },
        { repo: 'r', digest: a.digest, at: 4000 },
        { repo: 'nope', digest: a.digest, at: 1 },
      ]);
      const snap = (await store.manifests.snapshot('r'))!;
      assert.deepEqual(snap.tags.map((t) => [t.name, t.digest]).sort(), [
        ['one', a.digest],
        ['two', a.digest],
      ]);
      assert.ok(snap.tags.every((t) => t.pushedAt >= before && t.pushedAt <= Date.now()));
      const byDigest = new Map(snap.manifests.map((m) => [m.digest, m]));
      assert.deepEqual(byDigest.get(a.digest), {
        digest: a.digest,
        pushedAt: a.createdAt,
        pulledAt: 5000,
        subject: null,
        artifactType: a.artifactType,
        children: [],
      });
      assert.deepEqual(byDigest.get(ref.digest), {
        digest: ref.digest,
        pushedAt: ref.createdAt,
        pulledAt: null,
        subject: a.digest,
        artifactType: 'application/x-sig',
        children: [],
      });
      const idx = manifest('r', 'snap-index', { mediaType: INDEX });
      await store.manifests.put(idx, { blobs: [], manifests: [a.digest] }, ['multi']);
      const again = (await store.manifests.snapshot('r'))!;
      assert.deepEqual(again.manifests.find((m) => m.digest === idx.digest)?.children, [a.digest]);
      assert.equal(await store.manifests.snapshot('unknown'), null);
    });
  });
}

/** The manifests role's conformance suite alone. */
export function runManifestConformance(name: string, create: StoreFactory): void {
  runSuites(`MetadataStore manifests conformance: ${name}`, create, [manifestSuite, listingSuite]);
}
