/**
 * Tag listing, catalog and referrers (end-8a/b, end-12a/b, _catalog): raw HTTP requests to the real app
 * on in-memory stores (test/memory-app.ts), without a socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import {
  assertError,
  assertStatus,
  makeImage,
  makeIndex,
  makeReferrer,
  nextLink,
  pushBlob,
  pushImage,
  pushManifest,
  randomBlob,
  uniqueRepo,
  type Content,
  type Requester,
  type Res,
} from '../test/testkit.js';
import { memoryApp, useMemoryApp, type MemoryServer } from '../test/memory-app.js';

const ts = useMemoryApp();

/** Pushes one image and tags it with every tag (10 per request via ?tag=). */
async function repoWithTags(server: Requester, repo: string, tags: string[]): Promise<Content> {
  const img = makeImage();
  await pushImage(server, repo, img);
  for (let i = 0; i < tags.length; i += 10) {
    const q = tags
      .slice(i, i + 10)
      .map((t) => `tag=${encodeURIComponent(t)}`)
      .join('&');
    const res = await server.req('PUT', `/v2/${repo}/manifests/${img.manifest.digest}?${q}`, {
      headers: { 'content-type': img.manifest.mediaType },
      body: img.manifest.bytes,
    });
    assertStatus(res, 201);
  }
  return img.manifest;
}

/** Byte-wise (ASCII) order, which is what the spec's "lexical" means here. */
function bytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

describe('tags list', () => {
  test('tags are sorted bytewise (uppercase before underscore before lowercase, shorter first)', async () => {
    const repo = uniqueRepo('tags');
    const tags = ['b', 'a', 'B', 'A', '_x', '1', '10', '9', 'a.b', 'a-b', 'a_b', 'aa', 'Z', 'v1.0.0', 'v1.0'];
    await repoWithTags(ts, repo, tags);
    const res = await ts.req('GET', `/v2/${repo}/tags/list`);
    assertStatus(res, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers.link, undefined);
    assert.deepEqual(res.json(), { name: repo, tags: [...tags].sort(bytewise) });
  });

  test('n limits, last is exclusive, Link points at the next page and is absent on the last one', async () => {
    const repo = uniqueRepo('tags');
    const tags = ['t1', 't2', 't3', 't4', 't5'];
    await repoWithTags(ts, repo, tags);

    const p1 = await ts.req('GET', `/v2/${repo}/tags/list?n=2`);
    assertStatus(p1, 200);
    assert.deepEqual(p1.json(), { name: repo, tags: ['t1', 't2'] });
    assert.equal(p1.headers.link, `</v2/${repo}/tags/list?n=2&last=t2>; rel="next"`);

    const p2 = await ts.req('GET', `/v2/${repo}/tags/list?n=2&last=t2`);
    assert.deepEqual(p2.json().tags, ['t3', 't4']);
    assert.equal(nextLink(p2), `/v2/${repo}/tags/list?n=2&last=t4`);

    const p3 = await ts.req('GET', `/v2/${repo}/tags/list?n=2&last=t4`);
    assert.deepEqual(p3.json().tags, ['t5']);
    assert.equal(p3.headers.link, undefined);

    // Exactly filling the last page: no Link.
    const full = await ts.req('GET', `/v2/${repo}/tags/list?n=5`);
    assert.deepEqual(full.json().tags, tags);
    assert.equal(full.headers.link, undefined);

    // last alone; last that is not a tag; last past the end.
    assert.deepEqual((await ts.req('GET', `/v2/${repo}/tags/list?last=t3`)).json().tags, ['t4', 't5']);
    assert.deepEqual((await ts.req('GET', `/v2/${repo}/tags/list?last=t25`)).json().tags, ['t3', 't4', 't5']);
    const past = await ts.req('GET', `/v2/${repo}/tags/list?n=3&last=zzz`);
    assertStatus(past, 200);
    assert.deepEqual(past.json(), { name: repo, tags: [] });
    assert.equal(past.headers.link, undefined);
    // n larger than the list.
    const big = await ts.req('GET', `/v2/${repo}/tags/list?n=1000`);
    assert.deepEqual(big.json().tags, tags);
    assert.equal(big.headers.link, undefined);
  });

  test('n=0 gives an empty list and no Link', async () => {
    const repo = uniqueRepo('tags');
    await repoWithTags(ts, repo, ['a', 'b']);
    const res = await ts.req('GET', `/v2/${repo}/tags/list?n=0`);
    assertStatus(res, 200);
    assert.deepEqual(res.json(), { name: repo, tags: [] });
    assert.equal(res.headers.link, undefined);
  });

  test('walking 250 tags with n=40 collects every tag exactly once, in order', async () => {
    const repo = uniqueRepo('tags');
    const tags = Array.from({ length: 250 }, (_, i) => `tag-${String(i).padStart(3, '0')}${i % 7 === 0 ? 'X' : ''}`);
    await repoWithTags(ts, repo, tags);
    const seen: string[] = [];
    let path: string | null = `/v2/${repo}/tags/list?n=40`;
    let pages = 0;
    while (path !== null) {
      const res = await ts.req('GET', path);
      assertStatus(res, 200);
      const page = res.json().tags as string[];
      assert.ok(page.length <= 40);
      seen.push(...page);
      path = nextLink(res);
      pages++;
      assert.ok(pages <= 10, 'too many pages');
    }
    assert.equal(pages, 7);
    assert.deepEqual(seen, [...tags].sort(bytewise));
    assert.equal(new Set(seen).size, 250);
  });

  test('an unknown repository is 404 NAME_UNKNOWN; a repository with blobs but no tags lists []', async () => {
    assertError(await ts.req('GET', `/v2/${uniqueRepo('never')}/tags/list`), 404, 'NAME_UNKNOWN');
    const repo = uniqueRepo('tags');
    await pushBlob(ts, repo, randomBlob(10));
    const res = await ts.req('GET', `/v2/${repo}/tags/list`);
    assertStatus(res, 200);
    assert.deepEqual(res.json(), { name: repo, tags: [] });
  });

  test('a bad n is 400 PAGINATION_NUMBER_INVALID', async () => {
    const repo = uniqueRepo('tags');
    await repoWithTags(ts, repo, ['a']);
    for (const n of ['-1', 'abc', '1.5', '1e3', '99999999999999999999', '10001']) {
      assertError(await ts.req('GET', `/v2/${repo}/tags/list?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID');
    }
    assertStatus(await ts.req('GET', `/v2/${repo}/tags/list?n=10000`), 200);
  });

  test('a deleted tag disappears from the list', async () => {
    const repo = uniqueRepo('tags');
    await repoWithTags(ts, repo, ['keep', 'drop']);
    assertStatus(await ts.req('DELETE', `/v2/${repo}/manifests/drop`), 202);
    assert.deepEqual((await ts.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['keep']);
  });
});

describe('catalog', () => {
  let cat: MemoryServer;
  const repos = [
    'alpha',
    'beta/one',
    'beta/two',
    'beta-x',
    'beta.y',
    'beta_z',
    'gamma/a/b/c',
    'zeta',
    '0num',
    'a',
    'b/manifests/c',
  ];
  before(async () => {
    cat = await memoryApp();
    for (const r of repos) await pushBlob(cat, r, randomBlob(4));
  });
  after(async () => {
    await cat?.close();
  });

  test('GET /v2/_catalog lists every repository in bytewise order', async () => {
    const res = await cat.req('GET', '/v2/_catalog');
    assertStatus(res, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), { repositories: [...repos].sort(bytewise) });
    assert.equal(res.headers.link, undefined);
  });

  test('n/last paginate with Link; n=0 is empty; a full walk sees every repository once', async () => {
    const sorted = [...repos].sort(bytewise);
    const p1 = await cat.req('GET', '/v2/_catalog?n=3');
    assert.deepEqual(p1.json(), { repositories: sorted.slice(0, 3) });
    assert.equal(p1.headers.link, `</v2/_catalog?n=3&last=${encodeURIComponent(sorted[2]!)}>; rel="next"`);
    const p2 = await cat.req('GET', `/v2/_catalog?n=3&last=${encodeURIComponent(sorted[2]!)}`);
    assert.deepEqual(p2.json().repositories, sorted.slice(3, 6));

    const zero = await cat.req('GET', '/v2/_catalog?n=0');
    assertStatus(zero, 200);
    assert.deepEqual(zero.json(), { repositories: [] });
    assert.equal(zero.headers.link, undefined);

    for (const n of [1, 2, 4, 11, 12]) {
      const seen: string[] = [];
      let path: string | null = `/v2/_catalog?n=${n}`;
      let pages = 0;
      while (path !== null) {
        const res = await cat.req('GET', path);
        assertStatus(res, 200);
        const items = res.json().repositories as string[];
        assert.ok(items.length <= n);
        seen.push(...items);
        path = nextLink(res);
        assert.ok(++pages <= repos.length + 1);
      }
      assert.deepEqual(seen, sorted, `walk with n=${n}`);
      assert.equal(pages, Math.max(1, Math.ceil(repos.length / n)), `pages with n=${n}`);
    }
  });

  test('a bad n is 400 PAGINATION_NUMBER_INVALID', async () => {
    for (const n of ['-1', 'x', '10001']) {
      assertError(await cat.req('GET', `/v2/_catalog?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID');
    }
  });
});

describe('referrers', () => {
  function assertEmptyIndex(res: Res): void {
    assertStatus(res, 200);
    assert.equal(res.headers['content-type'], MediaTypes.OciIndex);
    assert.deepEqual(res.json(), { schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: [] });
  }

  test(
    'a digest with no referrers, an unknown digest and an unknown repository give an empty index, never ' + '404',
    async () => {
      const repo = uniqueRepo('ref');
      const img = makeImage();
      await pushImage(ts, repo, img, 'v1');
      assertEmptyIndex(await ts.req('GET', `/v2/${repo}/referrers/${img.manifest.digest}`));
      assertEmptyIndex(await ts.req('GET', `/v2/${repo}/referrers/${digestOf('nothing')}`));
      assertEmptyIndex(await ts.req('GET', `/v2/${uniqueRepo('never')}/referrers/${digestOf('nothing')}`));
      assertEmptyIndex(
        await ts.req('GET', `/v2/${uniqueRepo('never')}/referrers/${digestOf('nothing')}?artifactType=a%2Fb`),
      );
    },
  );

  test('a bad digest is 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('ref');
    for (const d of ['sha256:abc', 'latest', 'sha256:' + 'g'.repeat(64)]) {
      assertError(await ts.req('GET', `/v2/${repo}/referrers/${d}`), 400, 'DIGEST_INVALID');
    }
  });

  test(
    'referrers of different artifactType are listed with artifactType and annotations; ?artifactType= ' + 'filters',
    async () => {
      const repo = uniqueRepo('ref');
      const subject = makeImage();
      await pushImage(ts, repo, subject, 'app');
      const sig = makeReferrer(subject.manifest, 'application/vnd.example.signature', { 'org.example.kind': 'sig' });
      const sbom = makeReferrer(subject.manifest, 'application/vnd.example.sbom+json', {
        'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
        'org.example.kind': 'sbom',
      });
      const r1 = await pushImage(ts, repo, sig);
      assert.equal(r1.headers['oci-subject'], subject.manifest.digest);
      const r2 = await pushImage(ts, repo, sbom, 'sbom-tag');
      assert.equal(r2.headers['oci-subject'], subject.manifest.digest);
      // An image manifest referrer without artifactType: its config media type stands in.
      const cfgTyped = makeImage({
        configMediaType: 'application/vnd.example.config.v1+json',
        subject: subject.manifest,
      });
      await pushImage(ts, repo, cfgTyped);
      // An index referrer without artifactType: no artifactType in its descriptor.
      const child = makeImage();
      await pushImage(ts, repo, child);
      const idx = makeIndex([{ manifest: child.manifest }], {
        subject: subject.manifest,
        annotations: { 'org.example.kind': 'index' },
      });
      await pushManifest(ts, repo, idx.digest, idx);
      // A referrer of something else is not listed.
      await pushImage(ts, repo, makeReferrer(child.manifest, 'application/vnd.example.signature'));

      const res = await ts.req('GET', `/v2/${repo}/referrers/${subject.manifest.digest}`);
      assertStatus(res, 200);
      assert.equal(res.headers['content-type'], MediaTypes.OciIndex);
      assert.equal(res.headers['oci-filters-applied'], undefined);
      const body = res.json() as { schemaVersion: number; mediaType: string; manifests: Record<string, unknown>[] };
      assert.equal(body.schemaVersion, 2);
      assert.equal(body.mediaType, MediaTypes.OciIndex);
      const byDigest = new Map(body.manifests.map((m) => [m.digest as string, m]));
      assert.equal(body.manifests.length, 4, JSON.stringify(body));
      assert.deepEqual(byDigest.get(sig.manifest.digest), {
        mediaType: MediaTypes.OciManifest,
        digest: sig.manifest.digest,
        size: sig.manifest.size,
        artifactType: 'application/vnd.example.signature',
        annotations: { 'org.example.kind': 'sig' },
      });
      assert.deepEqual(byDigest.get(sbom.manifest.digest), {
        mediaType: MediaTypes.OciManifest,
        digest: sbom.manifest.digest,
        size: sbom.manifest.size,
        artifactType: 'application/vnd.example.sbom+json',
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.kind': 'sbom' },
      });
      assert.deepEqual(byDigest.get(cfgTyped.manifest.digest), {
        mediaType: MediaTypes.OciManifest,
        digest: cfgTyped.manifest.digest,
        size: cfgTyped.manifest.size,
        artifactType: 'application/vnd.example.config.v1+json',
      });
      assert.deepEqual(byDigest.get(idx.digest), {
        mediaType: MediaTypes.OciIndex,
        digest: idx.digest,
        size: idx.size,
        annotations: { 'org.example.kind': 'index' },
      });

      const sbomType = encodeURIComponent('application/vnd.example.sbom+json');
      const filtered = await ts.req('GET', `/v2/${repo}/referrers/${subject.manifest.digest}?artifactType=${sbomType}`);
      assertStatus(filtered, 200);
      assert.equal(filtered.headers['content-type'], MediaTypes.OciIndex);
      assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
      assert.deepEqual(
        (filtered.json() as { manifests: { digest: string }[] }).manifests.map((m) => m.digest),
        [sbom.manifest.digest],
      );
      const none = await ts.req(
        'GET',
        `/v2/${repo}/referrers/${subject.manifest.digest}?artifactType=application%2Fnone`,
      );
      assertStatus(none, 200);
      assert.equal(none.headers['oci-filters-applied'], 'artifactType');
      assert.deepEqual(none.json().manifests, []);
    },
  );

  test('referrers of a subject that was never pushed are listed', async () => {
    const repo = uniqueRepo('ref');
    const ghost = makeImage().manifest;
    const sig = makeReferrer(ghost, 'application/vnd.example.signature');
    const res = await pushImage(ts, repo, sig);
    assert.equal(res.headers['oci-subject'], ghost.digest);
    const list = await ts.req('GET', `/v2/${repo}/referrers/${ghost.digest}`);
    assertStatus(list, 200);
    assert.deepEqual(
      (list.json() as { manifests: { digest: string }[] }).manifests.map((m) => m.digest),
      [sig.manifest.digest],
    );
  });

  test('deleting a referrer removes it from the list; deleting only its tag does not', async () => {
    const repo = uniqueRepo('ref');
    const subject = makeImage();
    await pushImage(ts, repo, subject, 'app');
    const a = makeReferrer(subject.manifest, 'application/vnd.example.a');
    const b = makeReferrer(subject.manifest, 'application/vnd.example.b');
    await pushImage(ts, repo, a, 'a-tag');
    await pushImage(ts, repo, b);
    const list = async () =>
      (
        (await ts.req('GET', `/v2/${repo}/referrers/${subject.manifest.digest}`)).json() as {
          manifests: { digest: string }[];
        }
      ).manifests
        .map((m) => m.digest)
        .sort();
    assert.deepEqual(await list(), [a.manifest.digest, b.manifest.digest].sort());
    assertStatus(await ts.req('DELETE', `/v2/${repo}/manifests/a-tag`), 202);
    assert.deepEqual(await list(), [a.manifest.digest, b.manifest.digest].sort());
    assertStatus(await ts.req('DELETE', `/v2/${repo}/manifests/${a.manifest.digest}`), 202);
    assert.deepEqual(await list(), [b.manifest.digest]);
    assertStatus(await ts.req('DELETE', `/v2/${repo}/manifests/${b.manifest.digest}`), 202);
    assert.deepEqual(await list(), []);
  });

  test('referrers are per repository', async () => {
    const a = uniqueRepo('ref');
    const b = uniqueRepo('ref');
    const subject = makeImage();
    await pushImage(ts, a, subject);
    await pushImage(ts, b, subject);
    await pushImage(ts, a, makeReferrer(subject.manifest, 'application/vnd.example.a'));
    const res = await ts.req('GET', `/v2/${b}/referrers/${subject.manifest.digest}`);
    assert.deepEqual(res.json().manifests, []);
  });
});
