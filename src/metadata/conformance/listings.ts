// Metadata conformance, manifests: listing tags, repositories and referrers, paginated.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import type { ManifestRecord, Page } from '../types.js';
import { blob, bytewise, currentStore, manifest, pusher, type Ctx } from './fixtures.js';

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function listingSuite(ctx: Ctx): void {
  const store = currentStore(ctx);
  const push = pusher(store);

  describe('manifests.listTags', () => {
    test('null for an unknown repository', async () => {
      assert.equal(await store.manifests.listTags('nowhere', {}), null);
      assert.equal(await store.manifests.listTags('nowhere', { n: 10, last: 'a' }), null);
    });

    test('sorts bytewise: upper case before lower case, punctuation by byte value', async () => {
      const tags = ['b', 'a', 'B', 'A', '_x', '1.0', '1.0-rc1', '10', '1.0.1', 'Z', 'latest'];
      await push(manifest('app', 'm'), tags);
      const expected = [...tags].sort(bytewise);
      assert.deepEqual(expected, ['1.0', '1.0-rc1', '1.0.1', '10', 'A', 'B', 'Z', '_x', 'a', 'b', 'latest']);
      assert.deepEqual(await store.manifests.listTags('app', {}), expected);
    });

    test('last is exclusive and need not be a tag; n limits; n=0 is empty', async () => {
      await push(manifest('app', 'm'), ['a', 'b', 'c', 'd']);
      assert.deepEqual(await store.manifests.listTags('app', { n: 2 }), ['a', 'b']);
      assert.deepEqual(await store.manifests.listTags('app', { last: 'b', n: 2 }), ['c', 'd']);
      assert.deepEqual(await store.manifests.listTags('app', { last: 'b' }), ['c', 'd']);
      assert.deepEqual(await store.manifests.listTags('app', { last: 'bb', n: 1 }), ['c']);
      assert.deepEqual(await store.manifests.listTags('app', { last: 'B' }), ['a', 'b', 'c', 'd']);
      assert.deepEqual(await store.manifests.listTags('app', { last: 'd' }), []);
      assert.deepEqual(await store.manifests.listTags('app', { last: 'zzz', n: 5 }), []);
      assert.deepEqual(await store.manifests.listTags('app', { n: 0 }), []);
      assert.deepEqual(await store.manifests.listTags('app', { last: 'a', n: 0 }), []);
      assert.deepEqual(await store.manifests.listTags('app', { n: 100 }), ['a', 'b', 'c', 'd']);
    });

    test('rejects a page size that is not a non-negative integer', async () => {
      await push(manifest('app', 'm'), ['a']);
      await assert.rejects(store.manifests.listTags('app', { n: -1 }), RangeError);
      await assert.rejects(store.manifests.listTags('app', { n: 1.5 }), RangeError);
      await assert.rejects(store.manifests.listRepositories({ n: -1 }), RangeError);
    });

    test('tags of other repositories are not listed', async () => {
      await push(manifest('one', 'm'), ['x']);
      await push(manifest('two', 'm'), ['y']);
      assert.deepEqual(await store.manifests.listTags('one', {}), ['x']);
      assert.deepEqual(await store.manifests.listTags('two', {}), ['y']);
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
        const page = await store.manifests.listTags('big', last === undefined ? { n: 100 } : { last, n: 100 });
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
      assert.deepEqual(await store.manifests.listTags('big', {}), expected);
    });
  });

  describe('listings after changes', () => {
    test('tags: list, then add, move, delete a tag and delete a manifest, listing after each', async () => {
      const m1 = manifest('app', 'm1');
      const m2 = manifest('app', 'm2');
      await push(m1, ['b', 'd']);
      // Listed first, so a store that caches its sorted list has one to get wrong.
      assert.deepEqual(await store.manifests.listTags('app', {}), ['b', 'd']);
      assert.deepEqual(await store.manifests.listTags('app', { n: 1 }), ['b']);
      await push(m2, ['a', 'c']);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['a', 'b', 'c', 'd'], 'after adding tags');
      assert.deepEqual(await store.manifests.listTags('app', { last: 'a', n: 2 }), ['b', 'c']);
      await push(m2, ['d']);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['a', 'b', 'c', 'd'], 'after moving a tag');
      assert.equal((await store.manifests.resolveTag('app', 'd'))?.digest, m2.digest);
      assert.equal(await store.manifests.deleteTag('app', 'b'), true);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['a', 'c', 'd'], 'after deleting a tag');
      assert.deepEqual(await store.manifests.listTags('app', { last: 'a', n: 1 }), ['c']);
      assert.equal(await store.manifests.delete('app', m2.digest), true);
      assert.deepEqual(await store.manifests.listTags('app', {}), [], 'after deleting the manifest of a, c, d');
      await push(m1, ['e']);
      assert.deepEqual(await store.manifests.listTags('app', {}), ['e'], 'after tagging again');
    });

    test('repositories: list, then add one, list again', async () => {
      await push(manifest('b', 'm'));
      assert.deepEqual(await store.manifests.listRepositories({}), ['b']);
      await push(manifest('a', 'm'));
      await store.blobs.add('c', blob('c'), 1);
      assert.deepEqual(await store.manifests.listRepositories({}), ['a', 'b', 'c'], 'after adding repositories');
      assert.deepEqual(await store.manifests.listRepositories({ last: 'a', n: 1 }), ['b']);
    });

    test('referrers: list, then add one and delete one, listing after each', async () => {
      const subject = manifest('app', 'subject');
      await push(subject, ['v1']);
      const [r1, r2] = ['r1', 'r2'].map((l) => manifest('app', l, { subject: subject.digest, artifactType: 'a/b' }));
      await push(r1!);
      assert.deepEqual(await store.manifests.listReferrers('app', subject.digest), [r1]);
      await push(r2!);
      const both = [r1!, r2!].sort((x, y) => bytewise(x.digest, y.digest));
      assert.deepEqual(await store.manifests.listReferrers('app', subject.digest), both, 'after adding');
      await store.manifests.delete('app', r1!.digest);
      assert.deepEqual(await store.manifests.listReferrers('app', subject.digest), [r2], 'after deleting');
    });
  });

  describe('manifests.listRepositories', () => {
    test('empty store lists nothing', async () => {
      assert.deepEqual(await store.manifests.listRepositories({}), []);
      assert.deepEqual(await store.manifests.listRepositories({ n: 0 }), []);
    });

    test('all repositories, bytewise, with exclusive last and n', async () => {
      const names = ['b', 'a/b', 'a-b', 'a', 'a/b/c', 'z9', 'B'];
      for (const [i, name] of names.entries()) {
        if (i % 2 === 0) await store.blobs.add(name, blob(name), 1);
        else await push(manifest(name, 'm'));
      }
      const expected = [...names].sort(bytewise);
      assert.deepEqual(expected, ['B', 'a', 'a-b', 'a/b', 'a/b/c', 'b', 'z9']);
      assert.deepEqual(await store.manifests.listRepositories({}), expected);
      assert.deepEqual(await store.manifests.listRepositories({ n: 2 }), ['B', 'a']);
      assert.deepEqual(await store.manifests.listRepositories({ last: 'a', n: 2 }), ['a-b', 'a/b']);
      assert.deepEqual(await store.manifests.listRepositories({ last: 'a/b' }), ['a/b/c', 'b', 'z9']);
      assert.deepEqual(await store.manifests.listRepositories({ last: 'a/a' }), ['a/b', 'a/b/c', 'b', 'z9']);
      assert.deepEqual(await store.manifests.listRepositories({ last: 'z9' }), []);
      assert.deepEqual(await store.manifests.listRepositories({ n: 0 }), []);
    });

    test('paging by one walks every repository exactly once', async () => {
      const names = Array.from({ length: 25 }, (_, i) => `repo${String(i).padStart(2, '0')}`);
      for (const name of [...names].reverse()) await store.blobs.add(name, blob('x'), 1);
      const seen: string[] = [];
      let page = await store.manifests.listRepositories({ n: 1 });
      while (page.length > 0) {
        seen.push(...page);
        // Bounded: a page that repeats its `last` must fail here, not loop for ever.
        assert.ok(seen.length <= names.length, `paging does not terminate: ${seen.slice(-3).join(', ')}`);
        page = await store.manifests.listRepositories({ last: page[0]!, n: 1 });
      }
      assert.deepEqual(seen, names);
    });
  });

  describe('manifests.listReferrers', () => {
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
      assert.deepEqual(await store.manifests.listReferrers('app', subject.digest), [...referrers].sort(byDigest));
      assert.deepEqual(
        await store.manifests.listReferrers('app', subject.digest, sbom),
        referrers.filter((r) => r.artifactType === sbom).sort(byDigest),
      );
      assert.deepEqual(await store.manifests.listReferrers('app', subject.digest, sig), [referrers[1]]);
      assert.deepEqual(await store.manifests.listReferrers('app', subject.digest, 'application/none'), []);
      // Paginated by digest: n at a time after `last`, with or without a filter.
      const sorted = [...referrers].sort(byDigest);
      const page = (p: Page, type?: string) => store.manifests.listReferrers('app', subject.digest, type, p);
      assert.deepEqual(await page({ n: 2 }), sorted.slice(0, 2));
      assert.deepEqual(await page({ n: 2, last: sorted[1]!.digest }), sorted.slice(2, 4));
      assert.deepEqual(await page({ last: sorted[3]!.digest }), []);
      const sboms = sorted.filter((r) => r.artifactType === sbom);
      assert.deepEqual(await page({ n: 1, last: sboms[0]!.digest }, sbom), [sboms[1]]);
    });

    test('referrers may precede their subject; none for unknown repositories or subjects', async () => {
      const subject = digestOf('not pushed yet');
      const r = manifest('app', 'r', { subject, artifactType: 'application/x' });
      await push(r);
      assert.deepEqual(await store.manifests.listReferrers('app', subject), [r]);
      assert.deepEqual(await store.manifests.listReferrers('app', digestOf('nothing')), []);
      assert.deepEqual(await store.manifests.listReferrers('nowhere', subject), []);
    });

    test('a deleted referrer is no longer listed', async () => {
      const subject = digestOf('s');
      const r = manifest('app', 'r', { subject });
      await push(r);
      await store.manifests.delete('app', r.digest);
      assert.deepEqual(await store.manifests.listReferrers('app', subject), []);
    });
  });
}
