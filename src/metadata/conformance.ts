import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { digestOf, type Digest } from '../oci/digest.js';
import type { ManifestRecord, ManifestRefs, MetadataStore } from './types.js';

export type StoreFactory = () => Promise<{ store: MetadataStore; cleanup: () => Promise<void> }>;

const IMAGE = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const NO_REFS: ManifestRefs = { blobs: [], manifests: [] };

/** The order SQLite's BINARY collation gives: compare UTF-8 bytes. */
function bytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function blob(label: string): Digest {
  return digestOf(`blob ${label}`);
}

function manifest(repo: string, label: string, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  const digest = digestOf(`manifest ${label}`);
  return {
    repo,
    digest,
    mediaType: IMAGE,
    size: 100 + label.length,
    artifactType: null,
    subject: null,
    annotations: null,
    createdAt: 1_700_000_000_000,
    ...extra,
  };
}

/**
 * The behaviour every MetadataStore must share. `create` is called once per test and must return
 * an empty store; `cleanup` closes it and removes whatever it left behind.
 */
export function runMetadataConformance(name: string, create: StoreFactory): void {
  describe(`MetadataStore conformance: ${name}`, () => {
    let store: MetadataStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await create());
    });
    afterEach(async () => {
      await cleanup();
    });

    /** A manifest stored with its blobs uploaded first, as a client would push it. */
    async function push(rec: ManifestRecord, tags: string[] = [], blobs: Digest[] = []): Promise<void> {
      for (const d of blobs) await store.addBlob(rec.repo, d, 10);
      assert.deepEqual(await store.putManifest(rec, { blobs, manifests: [] }, tags), { missing: [] });
    }

    describe('blobs', () => {
      test('addBlob is idempotent and creates the repository', async () => {
        const d = blob('a');
        await store.addBlob('lib/app', d, 42);
        await store.addBlob('lib/app', d, 42);
        assert.equal(await store.getBlob('lib/app', d), 42);
        assert.deepEqual(await store.listRepositories({}), ['lib/app']);
        assert.deepEqual(await store.listTags('lib/app', {}), []);
      });

      test('getBlob only sees blobs linked to the repository; getGlobalBlob sees any', async () => {
        const d = blob('a');
        await store.addBlob('one', d, 7);
        assert.equal(await store.getBlob('one', d), 7);
        assert.equal(await store.getBlob('two', d), null);
        assert.equal(await store.getGlobalBlob(d), 7);
        assert.equal(await store.getGlobalBlob(blob('unknown')), null);
        assert.equal(await store.getBlob('one', blob('unknown')), null);
      });

      test('linking an existing blob to a second repository (mount)', async () => {
        const d = blob('a');
        await store.addBlob('one', d, 7);
        await store.addBlob('two', d, 7);
        assert.equal(await store.getBlob('two', d), 7);
        assert.deepEqual(await store.listRepositories({}), ['one', 'two']);
      });

      test('unlinkBlob reports whether a link was removed and leaves other links and the blob', async () => {
        const d = blob('a');
        await store.addBlob('one', d, 7);
        await store.addBlob('two', d, 7);
        assert.equal(await store.unlinkBlob('one', d), true);
        assert.equal(await store.unlinkBlob('one', d), false);
        assert.equal(await store.unlinkBlob('nowhere', d), false);
        assert.equal(await store.getBlob('one', d), null);
        assert.equal(await store.getBlob('two', d), 7);
        assert.equal(await store.getGlobalBlob(d), 7);
      });

      test('a repository outlives unlinking its last blob', async () => {
        const d = blob('a');
        await store.addBlob('one', d, 7);
        await store.unlinkBlob('one', d);
        assert.deepEqual(await store.listRepositories({}), ['one']);
        assert.deepEqual(await store.listTags('one', {}), []);
      });
    });

    describe('putManifest', () => {
      test('stores the record, tags it and records the manifest as a blob of the repository', async () => {
        const config = blob('config');
        const layer = blob('layer');
        const rec = manifest('app', 'm1', { annotations: { 'org.example.k': 'v' } });
        await push(rec, ['latest', 'v1'], [config, layer]);
        assert.deepEqual(await store.getManifest('app', rec.digest), rec);
        assert.deepEqual(await store.resolveTag('app', 'latest'), rec);
        assert.deepEqual(await store.resolveTag('app', 'v1'), rec);
        assert.equal(await store.getBlob('app', rec.digest), rec.size);
        assert.equal(await store.getGlobalBlob(rec.digest), rec.size);
        assert.deepEqual(await store.listTags('app', {}), ['latest', 'v1']);
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
          assert.deepEqual(await store.getManifest('app', rec.digest), rec);
        }
      });

      test('a manifest with no tags is reachable by digest only', async () => {
        const rec = manifest('app', 'untagged');
        await push(rec);
        assert.deepEqual(await store.getManifest('app', rec.digest), rec);
        assert.deepEqual(await store.listTags('app', {}), []);
        assert.equal(await store.getManifest('other', rec.digest), null);
      });

      test('missing references: deduplicated, in input order, blobs then manifests, nothing written', async () => {
        const linked = blob('linked');
        const elsewhere = blob('elsewhere');
        const absent = blob('absent');
        const childHere = manifest('app', 'child-here');
        const childElsewhere = manifest('other', 'child-elsewhere');
        await store.addBlob('app', linked, 1);
        await store.addBlob('other', elsewhere, 1);
        await push(childHere);
        await push(childElsewhere);

        const rec = manifest('app', 'index', { mediaType: INDEX });
        const result = await store.putManifest(
          rec,
          {
            blobs: [absent, linked, elsewhere, absent],
            // childHere is a manifest (and a blob) here; a blob digest is not a manifest.
            manifests: [childElsewhere.digest, childHere.digest, linked, elsewhere, childElsewhere.digest],
          },
          ['latest'],
        );
        assert.deepEqual(result, { missing: [absent, elsewhere, childElsewhere.digest, linked] });
        assert.equal(await store.getManifest('app', rec.digest), null);
        assert.equal(await store.resolveTag('app', 'latest'), null);
        assert.deepEqual(await store.listTags('app', {}), []);
        assert.equal(await store.getBlob('app', rec.digest), null);
        assert.equal(await store.getGlobalBlob(rec.digest), null);
      });

      test('a rejected manifest does not create its repository', async () => {
        const rec = manifest('fresh', 'm');
        const missing = [blob('x')];
        assert.deepEqual(await store.putManifest(rec, { blobs: missing, manifests: [] }, ['t']), { missing });
        assert.deepEqual(await store.listRepositories({}), []);
        assert.equal(await store.listTags('fresh', {}), null);
      });

      test('a manifest without references creates its repository', async () => {
        const rec = manifest('fresh', 'm');
        assert.deepEqual(await store.putManifest(rec, NO_REFS, ['t']), { missing: [] });
        assert.deepEqual(await store.listRepositories({}), ['fresh']);
        assert.deepEqual(await store.listTags('fresh', {}), ['t']);
      });

      test('an index may reference manifests of its repository', async () => {
        const a = manifest('app', 'amd64');
        const b = manifest('app', 'arm64');
        await push(a);
        await push(b);
        const index = manifest('app', 'index', { mediaType: INDEX });
        const refs = { blobs: [], manifests: [a.digest, b.digest] };
        assert.deepEqual(await store.putManifest(index, refs, ['latest']), { missing: [] });
        assert.deepEqual(await store.resolveTag('app', 'latest'), index);
      });

      test('a blob ref may name a manifest, since manifests are recorded as blobs', async () => {
        const child = manifest('app', 'child');
        await push(child);
        const rec = manifest('app', 'parent');
        assert.deepEqual(await store.putManifest(rec, { blobs: [child.digest], manifests: [] }, []), { missing: [] });
      });

      test('re-putting a digest keeps the original createdAt and adds tags', async () => {
        const layer = blob('layer');
        const rec = manifest('app', 'm', { createdAt: 1000 });
        await push(rec, ['one'], [layer]);
        await push({ ...rec, createdAt: 2000 }, ['two'], [layer]);
        assert.deepEqual(await store.getManifest('app', rec.digest), rec);
        assert.deepEqual(await store.resolveTag('app', 'two'), rec);
        assert.deepEqual(await store.listTags('app', {}), ['one', 'two']);
      });

      test('putting a tag that points elsewhere moves it', async () => {
        const m1 = manifest('app', 'm1');
        const m2 = manifest('app', 'm2');
        await push(m1, ['latest', 'stable']);
        await push(m2, ['latest']);
        assert.deepEqual(await store.resolveTag('app', 'latest'), m2);
        assert.deepEqual(await store.resolveTag('app', 'stable'), m1);
        assert.deepEqual(await store.getManifest('app', m1.digest), m1);
        assert.deepEqual(await store.listTags('app', {}), ['latest', 'stable']);
      });

      test('the same digest in two repositories is two independent records', async () => {
        const a = manifest('one', 'shared', { createdAt: 1 });
        const b = { ...a, repo: 'two', createdAt: 2 };
        await push(a, ['x']);
        await push(b, ['y']);
        assert.deepEqual(await store.getManifest('one', a.digest), a);
        assert.deepEqual(await store.getManifest('two', a.digest), b);
        assert.equal(await store.resolveTag('one', 'y'), null);
        assert.ok(await store.deleteManifest('one', a.digest));
        assert.deepEqual(await store.resolveTag('two', 'y'), b);
      });

      test('concurrent puts of one digest under two tags both succeed', async () => {
        const layer = blob('layer');
        await store.addBlob('app', layer, 10);
        const rec = manifest('app', 'm');
        const refs = { blobs: [layer], manifests: [] };
        const results = await Promise.all([
          store.putManifest(rec, refs, ['a']),
          store.putManifest({ ...rec }, refs, ['b']),
        ]);
        assert.deepEqual(results, [{ missing: [] }, { missing: [] }]);
        assert.deepEqual(await store.resolveTag('app', 'a'), rec);
        assert.deepEqual(await store.resolveTag('app', 'b'), rec);
        assert.deepEqual(await store.listTags('app', {}), ['a', 'b']);
      });

      test('returned records are copies', async () => {
        const rec = manifest('app', 'm', { annotations: { k: 'v' } });
        const input = structuredClone(rec);
        await store.putManifest(input, NO_REFS, ['t']);
        input.annotations!['k'] = 'changed by caller';
        const got = await store.getManifest('app', rec.digest);
        assert.deepEqual(got, rec);
        got!.annotations!['k'] = 'changed by reader';
        got!.size = 1;
        assert.deepEqual(await store.resolveTag('app', 't'), rec);
      });
    });

    describe('deletion', () => {
      test('deleteManifest removes the manifest and every tag pointing at it, nothing else', async () => {
        const m1 = manifest('app', 'm1');
        const m2 = manifest('app', 'm2');
        await push(m1, ['a', 'b']);
        await push(m2, ['c']);
        assert.equal(await store.deleteManifest('app', m1.digest), true);
        assert.equal(await store.getManifest('app', m1.digest), null);
        assert.equal(await store.resolveTag('app', 'a'), null);
        assert.equal(await store.resolveTag('app', 'b'), null);
        assert.deepEqual(await store.resolveTag('app', 'c'), m2);
        assert.deepEqual(await store.listTags('app', {}), ['c']);
        assert.equal(await store.deleteManifest('app', m1.digest), false);
        assert.equal(await store.deleteManifest('nowhere', m2.digest), false);
      });

      test('a deleted manifest no longer satisfies manifest refs, and can be pushed again', async () => {
        const layer = blob('layer');
        const child = manifest('app', 'child', { createdAt: 1 });
        await push(child, ['c'], [layer]);
        assert.ok(await store.deleteManifest('app', child.digest));
        const index = manifest('app', 'index', { mediaType: INDEX });
        const refs = { blobs: [], manifests: [child.digest] };
        assert.deepEqual(await store.putManifest(index, refs, []), { missing: [child.digest] });
        // Re-pushing must not trip over refs left behind by the deleted row.
        const again = { ...child, createdAt: 2 };
        await push(again, ['c'], [layer]);
        assert.deepEqual(await store.resolveTag('app', 'c'), again);
        assert.deepEqual(await store.putManifest(index, refs, []), { missing: [] });
      });

      test('deleteTag removes only the tag', async () => {
        const m = manifest('app', 'm');
        await push(m, ['a', 'b']);
        assert.equal(await store.deleteTag('app', 'a'), true);
        assert.equal(await store.deleteTag('app', 'a'), false);
        assert.equal(await store.deleteTag('nowhere', 'b'), false);
        assert.equal(await store.resolveTag('app', 'a'), null);
        assert.deepEqual(await store.resolveTag('app', 'b'), m);
        assert.deepEqual(await store.getManifest('app', m.digest), m);
        assert.deepEqual(await store.listTags('app', {}), ['b']);
      });

      test('deleting every manifest leaves the repository listed with no tags', async () => {
        const m = manifest('app', 'm');
        await push(m, ['a']);
        await store.deleteManifest('app', m.digest);
        assert.deepEqual(await store.listTags('app', {}), []);
        assert.deepEqual(await store.listRepositories({}), ['app']);
      });
    });

    describe('listTags', () => {
      test('null for an unknown repository', async () => {
        assert.equal(await store.listTags('nowhere', {}), null);
        assert.equal(await store.listTags('nowhere', { n: 10, last: 'a' }), null);
      });

      test('sorts bytewise: upper case before lower case, punctuation by byte value', async () => {
        const tags = ['b', 'a', 'B', 'A', '_x', '1.0', '1.0-rc1', '10', '1.0.1', 'Z', 'latest'];
        await push(manifest('app', 'm'), tags);
        const expected = [...tags].sort(bytewise);
        assert.deepEqual(expected, ['1.0', '1.0-rc1', '1.0.1', '10', 'A', 'B', 'Z', '_x', 'a', 'b', 'latest']);
        assert.deepEqual(await store.listTags('app', {}), expected);
      });

      test('last is exclusive and need not be a tag; n limits; n=0 is empty', async () => {
        await push(manifest('app', 'm'), ['a', 'b', 'c', 'd']);
        assert.deepEqual(await store.listTags('app', { n: 2 }), ['a', 'b']);
        assert.deepEqual(await store.listTags('app', { last: 'b', n: 2 }), ['c', 'd']);
        assert.deepEqual(await store.listTags('app', { last: 'b' }), ['c', 'd']);
        assert.deepEqual(await store.listTags('app', { last: 'bb', n: 1 }), ['c']);
        assert.deepEqual(await store.listTags('app', { last: 'B' }), ['a', 'b', 'c', 'd']);
        assert.deepEqual(await store.listTags('app', { last: 'd' }), []);
        assert.deepEqual(await store.listTags('app', { last: 'zzz', n: 5 }), []);
        assert.deepEqual(await store.listTags('app', { n: 0 }), []);
        assert.deepEqual(await store.listTags('app', { last: 'a', n: 0 }), []);
        assert.deepEqual(await store.listTags('app', { n: 100 }), ['a', 'b', 'c', 'd']);
      });

      test('rejects a page size that is not a non-negative integer', async () => {
        await push(manifest('app', 'm'), ['a']);
        await assert.rejects(store.listTags('app', { n: -1 }), RangeError);
        await assert.rejects(store.listTags('app', { n: 1.5 }), RangeError);
        await assert.rejects(store.listRepositories({ n: -1 }), RangeError);
      });

      test('tags of other repositories are not listed', async () => {
        await push(manifest('one', 'm'), ['x']);
        await push(manifest('two', 'm'), ['y']);
        assert.deepEqual(await store.listTags('one', {}), ['x']);
        assert.deepEqual(await store.listTags('two', {}), ['y']);
      });

      test('5,000 tags paginated by 100 walk to the end with no duplicates or gaps', async () => {
        const tags: string[] = [];
        for (let i = 0; i < 5000; i++) tags.push(`${i % 3 === 0 ? 'V' : 'v'}${i.toString(36)}-${i % 7}`);
        // Spread across two manifests so both insert and move paths build the set.
        await push(manifest('big', 'm1'), tags.slice(0, 2500));
        await push(manifest('big', 'm2'), tags.slice(2000));
        const expected = [...tags].sort(bytewise);

        const seen: string[] = [];
        let last: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await store.listTags('big', last === undefined ? { n: 100 } : { last, n: 100 });
          assert.ok(page !== null);
          assert.ok(page.length <= 100);
          if (page.length === 0) break;
          seen.push(...page);
          last = page[page.length - 1];
          pages++;
          assert.ok(pages <= 51, 'pagination does not terminate');
        }
        assert.equal(pages, 50);
        assert.equal(new Set(seen).size, 5000);
        assert.deepEqual(seen, expected);
        assert.deepEqual(await store.listTags('big', {}), expected);
      });
    });

    describe('listRepositories', () => {
      test('empty store lists nothing', async () => {
        assert.deepEqual(await store.listRepositories({}), []);
        assert.deepEqual(await store.listRepositories({ n: 0 }), []);
      });

      test('all repositories, bytewise, with exclusive last and n', async () => {
        const names = ['b', 'a/b', 'a-b', 'a', 'a/b/c', 'z9', 'B'];
        for (const [i, name] of names.entries()) {
          if (i % 2 === 0) await store.addBlob(name, blob(name), 1);
          else await push(manifest(name, 'm'));
        }
        const expected = [...names].sort(bytewise);
        assert.deepEqual(expected, ['B', 'a', 'a-b', 'a/b', 'a/b/c', 'b', 'z9']);
        assert.deepEqual(await store.listRepositories({}), expected);
        assert.deepEqual(await store.listRepositories({ n: 2 }), ['B', 'a']);
        assert.deepEqual(await store.listRepositories({ last: 'a', n: 2 }), ['a-b', 'a/b']);
        assert.deepEqual(await store.listRepositories({ last: 'a/b' }), ['a/b/c', 'b', 'z9']);
        assert.deepEqual(await store.listRepositories({ last: 'a/a' }), ['a/b', 'a/b/c', 'b', 'z9']);
        assert.deepEqual(await store.listRepositories({ last: 'z9' }), []);
        assert.deepEqual(await store.listRepositories({ n: 0 }), []);
      });

      test('paging by one walks every repository exactly once', async () => {
        const names = Array.from({ length: 25 }, (_, i) => `repo${String(i).padStart(2, '0')}`);
        for (const name of [...names].reverse()) await store.addBlob(name, blob('x'), 1);
        const seen: string[] = [];
        let page = await store.listRepositories({ n: 1 });
        while (page.length > 0) {
          seen.push(...page);
          page = await store.listRepositories({ last: page[0]!, n: 1 });
        }
        assert.deepEqual(seen, names);
      });
    });

    describe('listReferrers', () => {
      test('manifests with the subject, ordered by digest, optionally filtered by artifact type', async () => {
        const subject = manifest('app', 'subject');
        await push(subject, ['v1']);
        const sbom = 'application/vnd.example.sbom';
        const sig = 'application/vnd.example.signature';
        const referrers = [
          manifest('app', 'r1', { subject: subject.digest, artifactType: sbom, annotations: { n: '1' } }),
          manifest('app', 'r2', { subject: subject.digest, artifactType: sig }),
          manifest('app', 'r3', { subject: subject.digest, artifactType: sbom }),
          manifest('app', 'r4', { subject: subject.digest, artifactType: null }),
        ];
        for (const r of referrers) await push(r);
        // Same subject digest in another repository, and another subject here: neither is listed.
        await push(manifest('other', 'r5', { subject: subject.digest, artifactType: sbom }));
        await push(manifest('app', 'r6', { subject: digestOf('another subject'), artifactType: sbom }));

        const byDigest = (a: ManifestRecord, b: ManifestRecord): number => bytewise(a.digest, b.digest);
        assert.deepEqual(await store.listReferrers('app', subject.digest), [...referrers].sort(byDigest));
        assert.deepEqual(
          await store.listReferrers('app', subject.digest, sbom),
          referrers.filter((r) => r.artifactType === sbom).sort(byDigest),
        );
        assert.deepEqual(await store.listReferrers('app', subject.digest, sig), [referrers[1]]);
        assert.deepEqual(await store.listReferrers('app', subject.digest, 'application/none'), []);
        // Paginated by digest: n at a time after `last`, with or without a filter.
        const sorted = [...referrers].sort(byDigest);
        assert.deepEqual(await store.listReferrers('app', subject.digest, undefined, { n: 2 }), sorted.slice(0, 2));
        assert.deepEqual(await store.listReferrers('app', subject.digest, undefined, { n: 2, last: sorted[1]!.digest }), sorted.slice(2, 4));
        assert.deepEqual(await store.listReferrers('app', subject.digest, undefined, { last: sorted[3]!.digest }), []);
        const sboms = sorted.filter((r) => r.artifactType === sbom);
        assert.deepEqual(await store.listReferrers('app', subject.digest, sbom, { n: 1, last: sboms[0]!.digest }), [sboms[1]]);
      });

      test('referrers may precede their subject; none for unknown repositories or subjects', async () => {
        const subject = digestOf('not pushed yet');
        const r = manifest('app', 'r', { subject, artifactType: 'application/x' });
        await push(r);
        assert.deepEqual(await store.listReferrers('app', subject), [r]);
        assert.deepEqual(await store.listReferrers('app', digestOf('nothing')), []);
        assert.deepEqual(await store.listReferrers('nowhere', subject), []);
      });

      test('a deleted referrer is no longer listed', async () => {
        const subject = digestOf('s');
        const r = manifest('app', 'r', { subject });
        await push(r);
        await store.deleteManifest('app', r.digest);
        assert.deepEqual(await store.listReferrers('app', subject), []);
      });
    });

    describe('uploads', () => {
      const upload = { id: 'u-1', repo: 'app', offset: 0, createdAt: 1000, updatedAt: 1000, owner: null };

      test('create, get, update, delete', async () => {
        await store.createUpload({ ...upload });
        assert.deepEqual(await store.getUpload('u-1'), upload);
        assert.equal(await store.updateUpload('u-1', 4096, 2000), true);
        assert.deepEqual(await store.getUpload('u-1'), { ...upload, offset: 4096, updatedAt: 2000 });
        assert.equal(await store.deleteUpload('u-1'), true);
        assert.equal(await store.getUpload('u-1'), null);
        assert.equal(await store.deleteUpload('u-1'), false);
        assert.equal(await store.updateUpload('u-1', 8192, 3000), false);
        assert.equal(await store.getUpload('u-1'), null);
      });

      test('unknown sessions', async () => {
        assert.equal(await store.getUpload('nope'), null);
        assert.equal(await store.updateUpload('nope', 1, 1), false);
        assert.equal(await store.deleteUpload('nope'), false);
      });

      test('an upload does not create its repository', async () => {
        await store.createUpload({ ...upload, repo: 'new' });
        assert.deepEqual(await store.listRepositories({}), []);
        assert.equal(await store.listTags('new', {}), null);
      });

      test('creating an upload with an existing id fails', async () => {
        await store.createUpload({ ...upload });
        await assert.rejects(store.createUpload({ ...upload, repo: 'other' }));
        assert.deepEqual(await store.getUpload('u-1'), upload);
      });

      test('listStaleUploads returns sessions updated strictly before the cutoff', async () => {
        await store.createUpload({ ...upload, id: 'old', updatedAt: 100 });
        await store.createUpload({ ...upload, id: 'edge', updatedAt: 200 });
        await store.createUpload({ ...upload, id: 'new', updatedAt: 300 });
        await store.createUpload({ ...upload, id: 'bumped', updatedAt: 50 });
        await store.updateUpload('bumped', 10, 250);
        const ids = async (before: number): Promise<string[]> =>
          (await store.listStaleUploads(before)).map((u) => u.id).sort();
        assert.deepEqual(await ids(200), ['old']);
        assert.deepEqual(await ids(201), ['edge', 'old']);
        assert.deepEqual(await ids(1000), ['bumped', 'edge', 'new', 'old']);
        assert.deepEqual(await ids(0), []);
        const [old] = await store.listStaleUploads(101);
        assert.deepEqual(old, { ...upload, id: 'old', updatedAt: 100 });
      });
    });

    describe('garbage collection', () => {
      // Rows get created_at from the store's clock, so "later" means a cutoff in the future.
      const future = () => Date.now() + 60_000;

      test('candidates are unreferenced live blobs created before the cutoff and not leased', async () => {
        const [a, b, c, d] = [blob('gc-a'), blob('gc-b'), blob('gc-c'), blob('gc-d')];
        await store.addBlob('r', a, 1);
        await store.addBlob('r', b, 1);
        await store.addBlob('r', c, 1, future() + 60_000);
        await store.addBlob('r', d, 1);
        const m = manifest('r', 'gc');
        assert.deepEqual(await store.putManifest(m, { blobs: [b], manifests: [] }, ['t']), { missing: [] });
        const now = Date.now() + 1;
        assert.deepEqual(new Set(await store.gcCandidates(now, future())), new Set([a, d]));
        // Before the cutoff nothing qualifies: the grace period.
        assert.deepEqual(await store.gcCandidates(now, Date.now() - 60_000), []);
        // Deleting the manifest exposes its blob and the manifest's own bytes.
        await store.deleteManifest('r', m.digest);
        assert.deepEqual(new Set(await store.gcCandidates(now, future())), new Set([a, b, d, m.digest]));
      });

      test('mark flips candidates to deleting and unlinks them everywhere; forget drops only deleting rows', async () => {
        const a = blob('gc-mark');
        await store.addBlob('r1', a, 5);
        await store.addBlob('r2', a, 5);
        const now = Date.now() + 1;
        assert.deepEqual(await store.gcMark([a], now, future()), [a]);
        assert.equal(await store.blobState(a), 'deleting');
        assert.equal(await store.getBlob('r1', a), null);
        assert.equal(await store.getBlob('r2', a), null);
        assert.deepEqual(await store.listDeleting(), [a]);
        assert.deepEqual(await store.gcCandidates(now, future()), []);
        assert.equal(await store.gcForget(a), true);
        assert.equal(await store.blobState(a), null);
        assert.equal(await store.gcForget(a), false);
      });

      test('mark re-checks: a blob referenced since it was listed is not marked', async () => {
        const a = blob('gc-race');
        await store.addBlob('r', a, 1);
        const now = Date.now() + 1;
        const listed = await store.gcCandidates(now, future());
        assert.deepEqual(listed, [a]);
        await store.putManifest(manifest('r', 'gc-race'), { blobs: [a], manifests: [] }, []);
        assert.deepEqual(await store.gcMark(listed, now, future()), []);
        assert.equal(await store.blobState(a), 'live');
      });

      test('a manifest PUT after the mark sees the blob as missing', async () => {
        const a = blob('gc-put');
        await store.addBlob('r', a, 1);
        await store.gcMark([a], Date.now() + 1, future());
        const res = await store.putManifest(manifest('r', 'gc-put'), { blobs: [a], manifests: [] }, ['x']);
        assert.deepEqual(res, { missing: [a] });
      });

      test('adding a blob revives a deleting one, and gcForget then leaves it alone', async () => {
        const a = blob('gc-revive');
        await store.addBlob('r', a, 7);
        await store.gcMark([a], Date.now() + 1, future());
        await store.addBlob('r', a, 7, Date.now() + 1000);
        assert.equal(await store.blobState(a), 'live');
        assert.equal(await store.getBlob('r', a), 7);
        assert.equal(await store.gcForget(a), false);
        assert.deepEqual(await store.listDeleting(), []);
        // The lease now protects it from the next round.
        assert.deepEqual(await store.gcCandidates(Date.now(), future()), []);
      });

      test('listBlobs shows every row with its state; dropBlob removes row and links whatever the state', async () => {
        const [a, b] = [blob('fsck-a'), blob('fsck-b')];
        await store.addBlob('r1', a, 3);
        await store.addBlob('r2', a, 3);
        await store.addBlob('r1', b, 4);
        await store.gcMark([b], Date.now() + 1, future());
        assert.deepEqual(
          (await store.listBlobs()).filter((x) => x.digest === a || x.digest === b).sort((x, y) => bytewise(x.digest, y.digest)),
          [{ digest: a, size: 3, state: 'live' as const }, { digest: b, size: 4, state: 'deleting' as const }].sort((x, y) => bytewise(x.digest, y.digest)),
        );
        assert.equal(await store.dropBlob(a), true);
        assert.equal(await store.getBlob('r1', a), null);
        assert.equal(await store.getBlob('r2', a), null);
        assert.equal(await store.blobState(a), null);
        assert.equal(await store.dropBlob(b), true);
        assert.equal(await store.dropBlob(b), false);
      });
    });

    describe('retention and immutability support', () => {
      test('a fixed tag may be created and re-put on the same digest, never moved', async () => {
        const a = manifest('r', 'fixed-a');
        const b = manifest('r', 'fixed-b');
        assert.deepEqual(await store.putManifest(a, NO_REFS, ['v1', 'latest'], ['v1']), { missing: [] });
        assert.deepEqual(await store.putManifest(a, NO_REFS, ['v1'], ['v1']), { missing: [] });
        assert.deepEqual(await store.putManifest(b, NO_REFS, ['v1', 'latest'], ['v1']), { missing: [], refused: ['v1'] });
        // Nothing was written: not the manifest, not the movable tag.
        assert.equal(await store.getManifest('r', b.digest), null);
        assert.equal((await store.resolveTag('r', 'latest'))?.digest, a.digest);
        assert.deepEqual(await store.putManifest(b, NO_REFS, ['latest'], ['v1']), { missing: [] });
        assert.equal((await store.resolveTag('r', 'latest'))?.digest, b.digest);
      });

      test('snapshots list tags with push times and manifests with pulls and subjects', async () => {
        const before = Date.now();
        const a = manifest('r', 'snap-a');
        const ref = manifest('r', 'snap-ref', { subject: a.digest, artifactType: 'application/x-sig' });
        await store.putManifest(a, NO_REFS, ['one', 'two']);
        await store.putManifest(ref, NO_REFS, []);
        await store.recordPulls([{ repo: 'r', digest: a.digest, at: 5000 }, { repo: 'r', digest: a.digest, at: 4000 }, { repo: 'nope', digest: a.digest, at: 1 }]);
        const snap = (await store.repositorySnapshot('r'))!;
        assert.deepEqual(snap.tags.map((t) => [t.name, t.digest]).sort(), [['one', a.digest], ['two', a.digest]]);
        assert.ok(snap.tags.every((t) => t.pushedAt >= before && t.pushedAt <= Date.now()));
        const byDigest = new Map(snap.manifests.map((m) => [m.digest, m]));
        assert.deepEqual(byDigest.get(a.digest), { digest: a.digest, pushedAt: a.createdAt, pulledAt: 5000, subject: null, artifactType: a.artifactType, children: [] });
        assert.deepEqual(byDigest.get(ref.digest), { digest: ref.digest, pushedAt: ref.createdAt, pulledAt: null, subject: a.digest, artifactType: 'application/x-sig', children: [] });
        const idx = manifest('r', 'snap-index', { mediaType: INDEX });
        await store.putManifest(idx, { blobs: [], manifests: [a.digest] }, ['multi']);
        const again = (await store.repositorySnapshot('r'))!;
        assert.deepEqual(again.manifests.find((m) => m.digest === idx.digest)?.children, [a.digest]);
        assert.equal(await store.repositorySnapshot('unknown'), null);
      });
    });

    describe('usage', () => {
      test('shared blobs count once per scope; namespaces match whole path segments', async () => {
        const [shared, a, b, c] = [blob('u-shared'), blob('u-a'), blob('u-b'), blob('u-c')];
        await store.addBlob('team/app', shared, 100);
        await store.addBlob('team/app', a, 10);
        await store.addBlob('team/web', shared, 100);
        await store.addBlob('team/web', b, 20);
        await store.addBlob('teamx/other', c, 40);
        await store.addBlob('team', c, 40);
        assert.deepEqual(await store.scopeUsage({ repo: 'team/app' }), { blobs: 2, bytes: 110 });
        assert.deepEqual(await store.scopeUsage({ namespace: 'team' }), { blobs: 4, bytes: 170 });
        assert.deepEqual(await store.scopeUsage({ namespace: 'teamx' }), { blobs: 1, bytes: 40 });
        assert.deepEqual(await store.scopeUsage({ namespace: 'nobody' }), { blobs: 0, bytes: 0 });
        assert.equal(await store.linkedInScope({ namespace: 'team' }, b), true);
        assert.equal(await store.linkedInScope({ repo: 'team/app' }, b), false);
        assert.equal(await store.linkedInScope({ namespace: 'team' }, blob('u-none')), false);
        const report = await store.usageReport();
        assert.deepEqual(report.repositories, [
          { name: 'team', blobs: 1, bytes: 40 },
          { name: 'team/app', blobs: 2, bytes: 110 },
          { name: 'team/web', blobs: 2, bytes: 120 },
          { name: 'teamx/other', blobs: 1, bytes: 40 },
        ]);
        assert.deepEqual(report.namespaces, [
          { name: 'team', blobs: 4, bytes: 170, sumOfRepositories: 270 },
          { name: 'teamx', blobs: 1, bytes: 40, sumOfRepositories: 40 },
        ]);
        assert.deepEqual(report.total, { blobs: 4, bytes: 170 });
      });
    });

    describe('audit', () => {
      test('events come back newest first, filtered by time, actor and repository', async () => {
        const ev = (at: number, actor: string | null, action: string, repository: string | null) => ({ at, actor, address: '127.0.0.1', action, repository, reference: 'v1', status: 201 });
        await store.appendAudit([ev(100, 'alice', 'push', 'team/a'), ev(200, null, 'pull', 'team/a'), ev(300, 'bob', 'delete', 'team/b')]);
        await store.appendAudit([]);
        assert.deepEqual((await store.listAudit({ limit: 10 })).map((e) => e.at), [300, 200, 100]);
        assert.deepEqual(await store.listAudit({ limit: 10, actor: 'alice' }), [ev(100, 'alice', 'push', 'team/a')]);
        assert.deepEqual((await store.listAudit({ limit: 10, repository: 'team/a', since: 150 })).map((e) => e.action), ['pull']);
        assert.equal((await store.listAudit({ limit: 1 })).length, 1);
        assert.equal(await store.purgeAudit(250), 2);
        assert.deepEqual((await store.listAudit({ limit: 10 })).map((e) => e.at), [300]);
      });
    });

    describe('accounts', () => {
      test('put, get, update, list and delete users and robots', async () => {
        const robot = { name: 'robot-ci', kind: 'robot' as const, passwordHash: '$2a$04$x', grants: { repositories: ['team/*'], actions: ['pull', 'push'] }, createdAt: 10, expiresAt: 99 };
        const user = { name: 'alice', kind: 'user' as const, passwordHash: '$2a$04$y', grants: null, createdAt: 20, expiresAt: null };
        await store.putAccount(robot);
        await store.putAccount(user);
        assert.deepEqual(await store.getAccount('robot-ci'), robot);
        assert.deepEqual((await store.listAccounts()).map((a) => a.name), ['alice', 'robot-ci']);
        await store.putAccount({ ...user, passwordHash: '$2a$04$z', createdAt: 999 });
        assert.deepEqual(await store.getAccount('alice'), { ...user, passwordHash: '$2a$04$z' }, 'an update keeps the creation time');
        assert.equal(await store.deleteAccount('alice'), true);
        assert.equal(await store.deleteAccount('alice'), false);
        assert.equal(await store.getAccount('alice'), null);
      });

      test('open uploads are counted per owner', async () => {
        await store.createUpload({ id: 'o1', repo: 'r', offset: 0, createdAt: 1, updatedAt: 1, owner: 'alice' });
        await store.createUpload({ id: 'o2', repo: 'r', offset: 0, createdAt: 1, updatedAt: 1, owner: 'alice' });
        await store.createUpload({ id: 'o3', repo: 'r', offset: 0, createdAt: 1, updatedAt: 1, owner: 'bob' });
        assert.equal(await store.countUploads('alice'), 2);
        await store.deleteUpload('o1');
        assert.equal(await store.countUploads('alice'), 1);
        assert.equal(await store.countUploads('nobody'), 0);
        assert.equal((await store.getUpload('o3'))?.owner, 'bob', 'the owner is kept (an upload belongs to whoever started it)');
      });
    });
  });
}
