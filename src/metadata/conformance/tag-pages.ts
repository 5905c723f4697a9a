// Metadata conformance, the tags page's reads: one page of a repository's tags in each order, after a cursor,
// filtered, with the tags on each digest and the counts; every store gives what tag-keys.ts's reference gives.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sortTags, TAG_SORTS, tagPageOf, type TagPage, type TagPageQuery, type TagSort } from '../tag-keys.js';
import { currentStore, manifest, pusher, type Ctx } from './fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tags that tell the orders apart: versions, pre-releases, leading zeros, non-versions, LIKE and GLOB characters. */
const GROUPS: string[][] = [
  ['v1.2.0', '1.2.0-rc.2', 'latest'],
  ['1.2.0-rc.10', 'v1.10.0', 'v02'],
  ['v2', 'v10', '1.2', 'edge'],
  ['a_b', 'a%b', 'axb', '2'],
  ['1.9', '1.9.1', '1.10', 'v1.2.0_build.7', 'Zeta'],
];
const ALL = GROUPS.flat();

/** The names of every page, walking the cursor with pages of `limit`. */
async function walk(
  page: (q: TagPageQuery) => Promise<TagPage | null>,
  base: Omit<TagPageQuery, 'after' | 'limit'>,
  limit: number,
): Promise<string[]> {
  const out: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 100; i++) {
    const p: TagPage = (await page({ ...base, after, limit }))!;
    out.push(...p.tags.map((t) => t.name));
    if (!p.more) return out;
    assert.equal(p.tags.length, limit, 'a page before the last is full');
    after = p.tags.at(-1)!.name;
  }
  throw new Error('the cursor did not advance');
}

/** Declares the tests inside the conformance `describe`; the store is a fresh one per test. */
export function tagPageSuite(ctx: Ctx): void {
  const store = currentStore(ctx);
  const push = pusher(store);
  const page = (q: TagPageQuery) => store.manifests.tagPage('app', q);
  /** Five manifests, one per group, pushed a few ms apart: push times differ between groups, tie within one. */
  const pushAll = async () => {
    for (const [i, tags] of GROUPS.entries()) {
      await push(manifest('app', `m${i}`), tags);
      await sleep(3);
    }
    await push(manifest('other', 'o'), ['v3', 'v1.2.0']);
  };

  describe('manifests.tagPage', () => {
    test('null for an unknown repository; an empty page and zero counts for one without tags', async () => {
      assert.equal(await store.manifests.tagPage('nowhere', { sort: 'name', after: null, limit: 10, q: '' }), null);
      await push(manifest('app', 'untagged'));
      assert.deepEqual(await page({ sort: '-pushed', after: null, limit: 10, q: '' }), {
        tags: [],
        more: false,
        total: 0,
        matched: 0,
      });
    });

    test('the orders: natural, semver (pre-release first, non-versions last), push time (ties by name)', async () => {
      await pushAll();
      const names = async (sort: TagSort) =>
        (await page({ sort, after: null, limit: 100, q: '' }))!.tags.map((t) => t.name);
      assert.deepEqual(await names('name'), [...ALL].sort());
      assert.deepEqual(await names('natural'), [
        ...['1.2', '1.2.0-rc.2', '1.2.0-rc.10', '1.9', '1.9.1', '1.10', '2', 'Zeta', 'a%b', 'a_b', 'axb', 'edge'],
        ...['latest', 'v1.2.0', 'v1.2.0_build.7', 'v1.10.0', 'v02', 'v2', 'v10'],
      ]);
      assert.deepEqual(await names('-semver'), [
        ...['latest', 'edge', 'axb', 'a_b', 'a%b', 'Zeta', 'v10', 'v2', 'v02', '2', 'v1.10.0', '1.10', '1.9.1', '1.9'],
        ...['v1.2.0_build.7', 'v1.2.0', '1.2', '1.2.0-rc.10', '1.2.0-rc.2'],
      ]);
      // v02 is version 2 like "2" and "v2"; ties by name.
      assert.deepEqual((await names('semver')).slice(9, 12), ['2', 'v02', 'v2']);
      assert.deepEqual(
        await names('-pushed'),
        [...GROUPS].reverse().flatMap((g) => [...g].sort().reverse()),
      );
    });

    test('every sort, both directions, filtered or not, paged by the cursor: the reference order', async () => {
      await pushAll();
      const all = (await store.manifests.tagList('app'))!;
      for (const sort of TAG_SORTS) {
        for (const q of ['', '1.', 'a_b', '%', 'v1*', '1.?', '*.*.*', 'a?b', '[', 'nothing']) {
          const want = tagPageOf(all, { sort, q, after: null, limit: 1000 }).tags.map((t) => t.name);
          assert.deepEqual(await walk(page, { sort, q }, 3), want, `sort ${sort}, filter "${q}", pages of 3`);
          const first = (await page({ sort, q, after: null, limit: 4 }))!;
          assert.equal(first.total, ALL.length);
          assert.equal(first.matched, want.length, `matched, filter "${q}"`);
          assert.equal(first.more, want.length > 4);
        }
      }
      // The filter's own rules: substring or whole-name glob, case-sensitive, LIKE/GLOB characters literal.
      const filtered = async (q: string) =>
        (await page({ sort: 'name', q, after: null, limit: 100 }))!.tags.map((t) => t.name);
      assert.deepEqual(await filtered('a_b'), ['a_b']);
      assert.deepEqual(await filtered('a?b'), ['a%b', 'a_b', 'axb']);
      assert.deepEqual(await filtered('%'), ['a%b']);
      assert.deepEqual(await filtered('zeta'), []);
      assert.deepEqual(await filtered('v1*'), ['v1.10.0', 'v1.2.0', 'v1.2.0_build.7', 'v10']);
      assert.deepEqual(await filtered('[*'), []);
    });

    test('each row carries every tag on its digest, whatever the filter; the counts', async () => {
      await pushAll();
      const p = (await page({ sort: 'natural', after: null, limit: 2, q: 'rc' }))!;
      assert.deepEqual(
        p.tags.map((t) => [t.name, t.sameDigest]),
        [
          ['1.2.0-rc.2', ['1.2.0-rc.2', 'latest', 'v1.2.0']],
          ['1.2.0-rc.10', ['1.2.0-rc.10', 'v02', 'v1.10.0']],
        ],
      );
      assert.deepEqual([p.more, p.total, p.matched], [false, ALL.length, 2]);
      const m0 = manifest('app', 'm0').digest;
      assert.equal(p.tags[0]!.digest, m0);
      assert.ok(p.tags[0]!.pushedAt > 0);
    });

    test('a deleted cursor tag: the name orders go on from where it sorted, push time starts again', async () => {
      await pushAll();
      for (const sort of ['natural', '-semver', 'name'] as const) {
        const all = (await page({ sort, after: null, limit: 100, q: '' }))!.tags.map((t) => t.name);
        const cut = all.indexOf('v1.2.0');
        await store.manifests.deleteTag('app', 'v1.2.0');
        const rest = (await page({ sort, after: 'v1.2.0', limit: 100, q: '' }))!.tags.map((t) => t.name);
        assert.deepEqual(rest, all.slice(cut + 1), sort);
        await push(manifest('app', 'm0'), ['v1.2.0']);
      }
      await store.manifests.deleteTag('app', 'edge');
      const again = (await page({ sort: '-pushed', after: 'edge', limit: 3, q: '' }))!.tags.map((t) => t.name);
      assert.deepEqual(
        again,
        sortTags((await store.manifests.tagList('app'))!, '-pushed')
          .slice(0, 3)
          .map((t) => t.name),
      );
      // A cursor the filter does not keep still marks a place.
      const after = (await page({ sort: 'name', after: 'b', limit: 100, q: 'a' }))!.tags.map((t) => t.name);
      assert.deepEqual(after, ['latest']);
    });

    test('a moved tag takes its new push time; a retag keeps its sort keys', async () => {
      await pushAll();
      await sleep(3);
      await push(manifest('app', 'm4'), ['v10']);
      const p = (await page({ sort: '-pushed', after: null, limit: 1, q: '' }))!;
      assert.deepEqual(
        p.tags.map((t) => [t.name, t.sameDigest]),
        [['v10', ['1.10', '1.9', '1.9.1', 'Zeta', 'v1.2.0_build.7', 'v10']]],
      );
      const natural = (await page({ sort: '-natural', after: null, limit: 2, q: '' }))!.tags.map((t) => t.name);
      assert.deepEqual(natural, ['v10', 'v2']);
    });
  });
}
