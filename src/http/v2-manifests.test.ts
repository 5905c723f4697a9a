/**
 * Manifest push/pull/delete (end-3, end-7a/b, end-9): raw HTTP requests to the real app
 * on in-memory stores (test/memory-app.ts), without a socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import {
  EMPTY_CONFIG,
  assertError,
  assertStatus,
  content,
  descriptorOf,
  errorCodes,
  makeImage,
  makeIndex,
  pushBlob,
  pushImage,
  pushManifest,
  putManifest,
  randomBlob,
  uniqueRepo,
  type Content,
  type Res,
  type Requester,
} from '../test/testkit.js';
import { memoryApp, useMemoryApp, type MemoryServer } from '../test/memory-app.js';

const ts = useMemoryApp();

const MiB = 1024 * 1024;

/** GET and HEAD by tag (when given) and by digest: 200, exact bytes, Content-Type, digest, ETag, length. */
async function assertServed(server: Requester, repo: string, m: Content, tag?: string, accept = '*/*'): Promise<void> {
  for (const ref of [...(tag ? [tag] : []), m.digest]) {
    const get = await server.req('GET', `/v2/${repo}/manifests/${ref}`, { headers: { accept } });
    assertStatus(get, 200);
    assert.equal(get.headers['content-type'], m.mediaType, `Content-Type of ${ref}`);
    assert.equal(get.headers['docker-content-digest'], m.digest, `Docker-Content-Digest of ${ref}`);
    assert.equal(get.headers['content-length'], String(m.size), `Content-Length of ${ref}`);
    assert.equal(get.headers.etag, `"${m.digest}"`);
    assert.ok(get.body.equals(m.bytes), `bytes of ${ref} differ from what was pushed`);
    const head = await server.req('HEAD', `/v2/${repo}/manifests/${ref}`, { headers: { accept } });
    assertStatus(head, 200);
    assert.equal(head.headers['content-type'], m.mediaType);
    assert.equal(head.headers['docker-content-digest'], m.digest);
    assert.equal(head.headers['content-length'], String(m.size));
    assert.equal(head.headers.etag, `"${m.digest}"`);
    assert.equal(head.body.length, 0);
  }
}

function assertPushed(res: Res, repo: string, m: Content): void {
  assertStatus(res, 201);
  assert.equal(res.headers.location, `/v2/${repo}/manifests/${m.digest}`);
  assert.equal(res.headers['docker-content-digest'], m.digest);
}

/** Pushes one OCI image's blobs and returns an annotations-only manifest of exactly `size` bytes. */
function manifestOfSize(size: number): Content {
  const doc = (pad: string) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: descriptorOf(EMPTY_CONFIG),
      layers: [],
      annotations: { 'org.example.pad': pad },
    });
  const base = doc('').length;
  assert.ok(size >= base);
  const bytes = Buffer.from(doc('x'.repeat(size - base)));
  assert.equal(bytes.length, size);
  return content(bytes, MediaTypes.OciManifest);
}

describe('manifest push and pull', () => {
  test(
    'PUT by tag is 201 with Location and Docker-Content-Digest; GET/HEAD by tag and digest serve it ' + 'exactly',
    async () => {
      const repo = uniqueRepo('man');
      const img = makeImage();
      await pushBlob(ts, repo, img.config);
      await pushBlob(ts, repo, img.layers[0]!);
      const res = await putManifest(ts, repo, 'v1', img.manifest);
      assertPushed(res, repo, img.manifest);
      await assertServed(ts, repo, img.manifest, 'v1');
    },
  );

  test('bytes with odd whitespace and key order are served byte-for-byte', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    const l = img.layers[0]!;
    const text =
      `\n  {"layers":[ {"size":${l.size},  "digest":"${l.digest}","mediaType":"${l.mediaType}"}\t],\r\n` +
      `"config" :{"digest":"${img.config.digest}","size":${img.config.size},"mediaType":"${img.config.mediaType}"},` +
      `  "mediaType":"${MediaTypes.OciManifest}",\n\n"schemaVersion":   2 , ` +
      `"annotations":{"b":"2","a":"1","\\u00e9":"\\u00e9"}}   \n`;
    const m = content(Buffer.from(text), MediaTypes.OciManifest);
    assertPushed(await putManifest(ts, repo, 'odd', m), repo, m);
    await assertServed(ts, repo, m, 'odd');
    assert.notEqual(digestOf(JSON.stringify(JSON.parse(text))), m.digest);
  });

  test('If-None-Match with the digest ETag is 304; another ETag is 200', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushImage(ts, repo, img, 'etag');
    for (const ref of ['etag', img.manifest.digest]) {
      const nm = await ts.req('GET', `/v2/${repo}/manifests/${ref}`, {
        headers: { 'if-none-match': `"${img.manifest.digest}"` },
      });
      assert.equal(nm.status, 304, ref);
      assert.equal(nm.body.length, 0);
      assert.equal(nm.headers.etag, `"${img.manifest.digest}"`);
      const head = await ts.req('HEAD', `/v2/${repo}/manifests/${ref}`, {
        headers: { 'if-none-match': `"${img.manifest.digest}"` },
      });
      assert.equal(head.status, 304, `HEAD ${ref}`);
      const other = await ts.req('GET', `/v2/${repo}/manifests/${ref}`, {
        headers: { 'if-none-match': `"${digestOf('other')}"` },
      });
      assertStatus(other, 200);
      assert.ok(other.body.equals(img.manifest.bytes));
    }
  });

  test('Docker schema2 manifest', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage({ mediaType: MediaTypes.DockerManifest, layers: 2 });
    assertPushed(await pushImage(ts, repo, img, 'docker'), repo, img.manifest);
    await assertServed(ts, repo, img.manifest, 'docker');
    // Docker schema2 is served even to clients that only ask for OCI types.
    const get = await ts.req('GET', `/v2/${repo}/manifests/docker`, { headers: { accept: MediaTypes.OciManifest } });
    assertStatus(get, 200);
    assert.equal(get.headers['content-type'], MediaTypes.DockerManifest);
  });

  test('Docker manifest list and OCI index', async () => {
    const repo = uniqueRepo('man');
    const amd = makeImage({ mediaType: MediaTypes.DockerManifest });
    const arm = makeImage({ mediaType: MediaTypes.DockerManifest, platform: { os: 'linux', architecture: 'arm64' } });
    await pushImage(ts, repo, amd);
    await pushImage(ts, repo, arm);
    const list = makeIndex(
      [
        { manifest: arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
        { manifest: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      ],
      { mediaType: MediaTypes.DockerManifestList },
    );
    assertPushed(await putManifest(ts, repo, 'list', list), repo, list);
    await assertServed(ts, repo, list, 'list');

    const o1 = makeImage();
    const o2 = makeImage({ platform: { os: 'linux', architecture: 'arm64' } });
    await pushImage(ts, repo, o1);
    await pushImage(ts, repo, o2);
    const index = makeIndex([
      { manifest: o1.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: o2.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    assertPushed(await putManifest(ts, repo, 'index', index), repo, index);
    await assertServed(ts, repo, index, 'index');
  });

  test('artifact with a custom artifactType, custom config media type and unknown fields', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage({
      artifactType: 'application/vnd.example.artifact.v1',
      configMediaType: 'application/vnd.example.config.v1+json',
      layerMediaType: 'application/vnd.example.layer.v1.bin',
      extra: { 'x-custom-field': { nested: [1, 2, 3] } },
    });
    assertPushed(await pushImage(ts, repo, img, 'artifact'), repo, img.manifest);
    await assertServed(ts, repo, img.manifest, 'artifact');
  });

  test('empty config application/vnd.oci.empty.v1+json ({} blob), with a descriptor data field', async () => {
    const repo = uniqueRepo('man');
    assert.equal(EMPTY_CONFIG.digest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    await pushBlob(ts, repo, EMPTY_CONFIG);
    const layer = content(randomBlob(20), 'application/vnd.example.data');
    await pushBlob(ts, repo, layer);
    const doc = {
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      artifactType: 'application/vnd.example.sbom',
      config: { ...descriptorOf(EMPTY_CONFIG), data: 'e30=' },
      layers: [descriptorOf(layer)],
    };
    const m = content(Buffer.from(JSON.stringify(doc)), MediaTypes.OciManifest);
    assertPushed(await putManifest(ts, repo, 'empty-config', m), repo, m);
    await assertServed(ts, repo, m, 'empty-config');
  });

  test('nested index and empty index', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushImage(ts, repo, img);
    const inner = makeIndex([{ manifest: img.manifest, platform: { os: 'linux', architecture: 'amd64' } }]);
    assertPushed(await putManifest(ts, repo, inner.digest, inner), repo, inner);
    const outer = makeIndex([{ manifest: inner }], { annotations: { 'org.example': 'nested' } });
    assertPushed(await putManifest(ts, repo, 'nested', outer), repo, outer);
    await assertServed(ts, repo, outer, 'nested');

    const empty = makeIndex([]);
    assertPushed(await putManifest(ts, repo, 'empty', empty), repo, empty);
    await assertServed(ts, repo, empty, 'empty');
  });

  test('non-distributable layers with urls need not exist', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    const foreign = content(randomBlob(50), 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip');
    const doc = {
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: descriptorOf(img.config),
      layers: [descriptorOf(foreign, { urls: ['https://example.com/layer.tar.gz'] }), descriptorOf(img.layers[0]!)],
    };
    const m = content(Buffer.from(JSON.stringify(doc)), MediaTypes.OciManifest);
    assertPushed(await putManifest(ts, repo, 'foreign', m), repo, m);
    await assertServed(ts, repo, m, 'foreign');
  });

  test('Content-Type parameters are ignored; no Content-Type uses the mediaType field', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushImage(ts, repo, img);
    assertPushed(
      await putManifest(ts, repo, 'params', img.manifest, `${MediaTypes.OciManifest}; charset=utf-8`),
      repo,
      img.manifest,
    );
    const img2 = makeImage();
    await pushBlob(ts, repo, img2.config);
    await pushBlob(ts, repo, img2.layers[0]!);
    const res = await ts.req('PUT', `/v2/${repo}/manifests/noct`, { body: img2.manifest.bytes });
    assertPushed(res, repo, img2.manifest);
    await assertServed(ts, repo, img2.manifest, 'noct');
  });

  test('Content-Type different from the mediaType field is 400 MANIFEST_INVALID', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    assertError(await putManifest(ts, repo, 'ct', img.manifest, MediaTypes.DockerManifest), 400, 'MANIFEST_INVALID');
    assertError(await putManifest(ts, repo, 'ct', img.manifest, MediaTypes.OciIndex), 400, 'MANIFEST_INVALID');
    const miss = await ts.req('GET', `/v2/${repo}/manifests/ct`);
    assertError(miss, 404, 'MANIFEST_UNKNOWN');
  });

  test('invalid JSON and non-manifest JSON are 400 MANIFEST_INVALID', async () => {
    const repo = uniqueRepo('man');
    await pushBlob(ts, repo, EMPTY_CONFIG);
    const bodies = [
      '{"schemaVersion": 2, "mediaType": ',
      'not json at all',
      '',
      '[]',
      '"a string"',
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, layers: [] }), // no config
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, config: { digest: 'sha256:zz', size: 2 } }),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OciManifest,
        config: { ...descriptorOf(EMPTY_CONFIG), size: -1 },
      }),
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: {} }),
    ];
    for (const b of bodies) {
      const res = await ts.req('PUT', `/v2/${repo}/manifests/bad`, {
        headers: { 'content-type': MediaTypes.OciManifest },
        body: b,
      });
      assertError(res, 400, 'MANIFEST_INVALID');
    }
  });

  test('missing blobs: 400 with one MANIFEST_BLOB_UNKNOWN per missing digest', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage({ layers: 2 });
    await pushBlob(ts, repo, img.layers[0]!); // config and layer 1 missing
    const res = await putManifest(ts, repo, 'missing', img.manifest);
    assertError(res, 400, 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN');
    const digests = (res.json() as { errors: { detail: { digest: string } }[] }).errors
      .map((e) => e.detail.digest)
      .sort();
    assert.deepEqual(digests, [img.config.digest, img.layers[1]!.digest].sort());
    assertError(await ts.req('GET', `/v2/${repo}/manifests/missing`), 404, 'MANIFEST_UNKNOWN');

    // One missing → exactly one error.
    await pushBlob(ts, repo, img.config);
    assertError(await putManifest(ts, repo, 'missing', img.manifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    // Blobs that exist only in another repository do not count.
    const other = uniqueRepo('man');
    const img2 = makeImage();
    await pushImage(ts, other, img2);
    assertError(await putManifest(ts, repo, 'x', img2.manifest), 400, 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN');
  });

  test('an index whose child manifest is missing is 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const repo = uniqueRepo('man');
    const present = makeImage();
    await pushImage(ts, repo, present);
    const absent = makeImage();
    const index = makeIndex([{ manifest: present.manifest }, { manifest: absent.manifest }]);
    const res = await putManifest(ts, repo, 'idx', index);
    assertError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal(
      (res.json() as { errors: { detail: { digest: string } }[] }).errors[0]!.detail.digest,
      absent.manifest.digest,
    );
    // A child whose bytes were pushed as a blob only is still not a manifest.
    await pushBlob(ts, repo, absent.manifest);
    assertError(await putManifest(ts, repo, 'idx', index), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('PUT by digest with bytes of another digest is 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    const wrong = digestOf('something else');
    assertError(await putManifest(ts, repo, wrong, img.manifest), 400, 'DIGEST_INVALID');
    assertError(await ts.req('GET', `/v2/${repo}/manifests/${wrong}`), 404, 'MANIFEST_UNKNOWN');
    assertError(await putManifest(ts, repo, 'sha256:abc', img.manifest), 400, 'DIGEST_INVALID');
    // By the right digest (sha256 and sha512) it is accepted.
    assertPushed(await putManifest(ts, repo, img.manifest.digest, img.manifest), repo, img.manifest);
    const m512 = content(img.manifest.bytes, MediaTypes.OciManifest, 'sha512');
    const res = await putManifest(ts, repo, m512.digest, m512);
    assertPushed(res, repo, m512);
    await assertServed(ts, repo, m512);
  });

  test('push by digest with ?tag=a&tag=b: 201 with one OCI-Tag per tag, both resolve', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    const res = await ts.req('PUT', `/v2/${repo}/manifests/${img.manifest.digest}?tag=a&tag=b`, {
      headers: { 'content-type': img.manifest.mediaType },
      body: img.manifest.bytes,
    });
    assertPushed(res, repo, img.manifest);
    assert.deepEqual([...(res.distinct['oci-tag'] ?? [])].sort(), ['a', 'b']);
    await assertServed(ts, repo, img.manifest, 'a');
    await assertServed(ts, repo, img.manifest, 'b');
    const tags = await ts.req('GET', `/v2/${repo}/tags/list`);
    assert.deepEqual(tags.json(), { name: repo, tags: ['a', 'b'] });
  });

  test('push by digest with ?tag= of the sha512 form', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    const m = content(img.manifest.bytes, MediaTypes.OciManifest, 'sha512');
    const res = await ts.req('PUT', `/v2/${repo}/manifests/${m.digest}?tag=t512`, {
      headers: { 'content-type': m.mediaType },
      body: m.bytes,
    });
    assertPushed(res, repo, m);
    assert.deepEqual(res.distinct['oci-tag'], ['t512']);
    const get = await ts.req('GET', `/v2/${repo}/manifests/t512`);
    assertStatus(get, 200);
    assert.ok(get.body.equals(m.bytes));
  });

  test('10 tag parameters are accepted; 11 are 414', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    const q = (n: number) => Array.from({ length: n }, (_, i) => `tag=t${i}`).join('&');
    const tooMany = await ts.req('PUT', `/v2/${repo}/manifests/${img.manifest.digest}?${q(11)}`, {
      headers: { 'content-type': img.manifest.mediaType },
      body: img.manifest.bytes,
    });
    assertError(tooMany, 414, 'TOO_MANY_TAGS');
    assertError(await ts.req('GET', `/v2/${repo}/manifests/t0`), 404, 'MANIFEST_UNKNOWN');
    const ten = await ts.req('PUT', `/v2/${repo}/manifests/${img.manifest.digest}?${q(10)}`, {
      headers: { 'content-type': img.manifest.mediaType },
      body: img.manifest.bytes,
    });
    assertPushed(ten, repo, img.manifest);
    assert.equal(ten.distinct['oci-tag']?.length, 10);
  });

  test('an invalid ?tag= is 400 TAG_INVALID', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    const res = await ts.req('PUT', `/v2/${repo}/manifests/${img.manifest.digest}?tag=ok&tag=-bad`, {
      headers: { 'content-type': img.manifest.mediaType },
      body: img.manifest.bytes,
    });
    assertError(res, 400, 'TAG_INVALID');
    assertError(await ts.req('GET', `/v2/${repo}/manifests/ok`), 404, 'MANIFEST_UNKNOWN');
  });

  test('manifest size limit: 4 MiB and a 3.9 MB annotations manifest accepted, 4 MiB + 1 is 413', async () => {
    const repo = uniqueRepo('man');
    await pushBlob(ts, repo, EMPTY_CONFIG);
    const large = manifestOfSize(3_900_000);
    assertPushed(await putManifest(ts, repo, 'large', large), repo, large);
    await assertServed(ts, repo, large, 'large');
    const exact = manifestOfSize(4 * MiB);
    assertPushed(await putManifest(ts, repo, 'exact', exact), repo, exact);
    const over = manifestOfSize(4 * MiB + 1);
    assertError(await putManifest(ts, repo, 'over', over), 413, 'SIZE_TOO_LARGE');
    // Without a Content-Length (chunked) the limit holds as well.
    const chunked = await ts.req('PUT', `/v2/${repo}/manifests/over`, {
      headers: { 'content-type': MediaTypes.OciManifest },
      body: [over.bytes.subarray(0, MiB), over.bytes.subarray(MiB)],
    });
    assertError(chunked, 413, 'SIZE_TOO_LARGE');
    assertError(await ts.req('GET', `/v2/${repo}/manifests/over`), 404, 'MANIFEST_UNKNOWN');
  });

  test('subject pointing to a non-existent manifest is accepted with OCI-Subject', async () => {
    const repo = uniqueRepo('man');
    const ghost = makeImage().manifest;
    const img = makeImage({ artifactType: 'application/vnd.example.sig', subject: ghost });
    const res = await pushImage(ts, repo, img, 'sig');
    assertPushed(res, repo, img.manifest);
    assert.equal(res.headers['oci-subject'], ghost.digest);
    // A manifest without subject has no OCI-Subject header.
    const plain = makeImage();
    const res2 = await pushImage(ts, repo, plain, 'plain');
    assert.equal(res2.headers['oci-subject'], undefined);
  });

  test('concurrent PUTs of the same manifest under two tags both succeed', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    const tags = Array.from({ length: 8 }, (_, i) => `c${i}`);
    const results = await Promise.all(tags.map((t) => putManifest(ts, repo, t, img.manifest)));
    for (const r of results) assertPushed(r, repo, img.manifest);
    for (const t of tags) await assertServed(ts, repo, img.manifest, t);
  });

  test('pushing another manifest under an existing tag moves the tag; the old one stays by digest', async () => {
    const repo = uniqueRepo('man');
    const one = makeImage();
    const two = makeImage();
    await pushImage(ts, repo, one, 'latest');
    await pushImage(ts, repo, two, 'latest');
    await assertServed(ts, repo, two.manifest, 'latest');
    await assertServed(ts, repo, one.manifest);
    assert.deepEqual((await ts.req('GET', `/v2/${repo}/tags/list`)).json(), { name: repo, tags: ['latest'] });
  });

  test('unknown manifests are 404 MANIFEST_UNKNOWN (tag and digest, GET and HEAD)', async () => {
    const repo = uniqueRepo('man');
    await pushImage(ts, repo, makeImage(), 'exists');
    assertError(await ts.req('GET', `/v2/${repo}/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
    assertError(await ts.req('GET', `/v2/${repo}/manifests/${digestOf('nope')}`), 404, 'MANIFEST_UNKNOWN');
    const head = await ts.req('HEAD', `/v2/${repo}/manifests/nope`);
    assert.equal(head.status, 404);
    assert.equal(head.body.length, 0);
    const res = await ts.req('GET', `/v2/${uniqueRepo('never')}/manifests/latest`);
    assert.equal(res.status, 404);
    assert.ok(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN'].includes(errorCodes(res)[0]!), res.text());
  });

  test('invalid tag syntax is 400 on PUT; a GET of it is 404 (a reference that cannot exist)', async () => {
    const repo = uniqueRepo('man');
    const img = makeImage();
    await pushBlob(ts, repo, img.config);
    await pushBlob(ts, repo, img.layers[0]!);
    for (const tag of ['-lead', '.dot', 'a'.repeat(129), 'sp%20ace', 'bad!', 'caf%C3%A9']) {
      const put = await putManifest(ts, repo, tag, img.manifest);
      assert.equal(put.status, 400, `PUT ${tag}: ${put.text()}`);
      assert.ok(['TAG_INVALID', 'MANIFEST_INVALID'].includes(errorCodes(put)[0]!), put.text());
      const get = await ts.req('GET', `/v2/${repo}/manifests/${tag}`);
      // A target the canonical request target refuses (docs/security.md) stays 400.
      const refused = tag.includes('%');
      assert.equal(get.status, refused ? 400 : 404, `GET ${tag}: ${get.text()}`);
      assert.deepEqual(errorCodes(get), [refused ? 'TAG_INVALID' : 'MANIFEST_UNKNOWN']);
    }
    // 128 characters is the maximum.
    const longest = 'a'.repeat(128);
    assertPushed(await putManifest(ts, repo, longest, img.manifest), repo, img.manifest);
    assertStatus(await ts.req('GET', `/v2/${repo}/manifests/${longest}`), 200);
  });
});

describe('manifest size limit configured lower', () => {
  let small: MemoryServer;
  before(async () => {
    small = await memoryApp({ limits: { manifestMaxBytes: '2KiB' } });
  });
  after(async () => {
    await small?.close();
  });

  test('limits.manifestMaxBytes: 2048 bytes accepted, 2049 is 413', async () => {
    const repo = uniqueRepo('lim');
    await pushBlob(small, repo, EMPTY_CONFIG);
    const ok = manifestOfSize(2048);
    assertPushed(await putManifest(small, repo, 'ok', ok), repo, ok);
    assertError(await putManifest(small, repo, 'over', manifestOfSize(2049)), 413, 'SIZE_TOO_LARGE');
    assertError(
      await small.req('PUT', `/v2/${repo}/manifests/over`, {
        headers: { 'content-type': MediaTypes.OciManifest },
        body: [manifestOfSize(3000).bytes],
      }),
      413,
      'SIZE_TOO_LARGE',
    );
  });
});

describe('Accept negotiation', () => {
  const V2 = MediaTypes.DockerManifest;

  test(
    'an OCI manifest asked for with only Docker schema2 Accept is 404 MANIFEST_UNKNOWN; */*, its type or no ' +
      'Accept is 200',
    async () => {
      const repo = uniqueRepo('acc');
      const img = makeImage();
      await pushImage(ts, repo, img, 'oci');
      for (const ref of ['oci', img.manifest.digest]) {
        assertError(
          await ts.req('GET', `/v2/${repo}/manifests/${ref}`, { headers: { accept: V2 } }),
          404,
          'MANIFEST_UNKNOWN',
        );
        assert.equal((await ts.req('HEAD', `/v2/${repo}/manifests/${ref}`, { headers: { accept: V2 } })).status, 404);
        for (const accept of [
          '*/*',
          MediaTypes.OciManifest,
          `${V2}, ${MediaTypes.OciManifest};q=0.9`,
          `${V2},${MediaTypes.OciIndex}, */*;q=0.1`,
        ]) {
          const res = await ts.req('GET', `/v2/${repo}/manifests/${ref}`, { headers: { accept } });
          assertStatus(res, 200);
          assert.equal(res.headers['content-type'], MediaTypes.OciManifest);
          assert.ok(res.body.equals(img.manifest.bytes));
        }
        // No Accept header at all.
        const none = await ts.req('GET', `/v2/${repo}/manifests/${ref}`);
        assertStatus(none, 200);
        assert.ok(none.body.equals(img.manifest.bytes));
      }
    },
  );

  test('an OCI index asked for with only Docker schema2 Accept is 404 MANIFEST_UNKNOWN', async () => {
    const repo = uniqueRepo('acc');
    const img = makeImage();
    await pushImage(ts, repo, img);
    const index = makeIndex([{ manifest: img.manifest, platform: { os: 'linux', architecture: 'amd64' } }]);
    await pushManifest(ts, repo, 'idx', index);
    assertError(await ts.req('GET', `/v2/${repo}/manifests/idx`, { headers: { accept: V2 } }), 404, 'MANIFEST_UNKNOWN');
    assertStatus(await ts.req('GET', `/v2/${repo}/manifests/idx`, { headers: { accept: MediaTypes.OciIndex } }), 200);
  });

  test('a Docker manifest list fetched by tag by a schema2-only client gets the linux/amd64 child', async () => {
    const repo = uniqueRepo('acc');
    const arm = makeImage({ mediaType: V2, platform: { os: 'linux', architecture: 'arm64' } });
    const amd = makeImage({ mediaType: V2, platform: { os: 'linux', architecture: 'amd64' } });
    const win = makeImage({ mediaType: V2, platform: { os: 'windows', architecture: 'amd64' } });
    for (const i of [arm, amd, win]) await pushImage(ts, repo, i);
    const list = makeIndex(
      [
        { manifest: arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
        { manifest: win.manifest, platform: { os: 'windows', architecture: 'amd64' } },
        { manifest: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      ],
      { mediaType: MediaTypes.DockerManifestList },
    );
    await pushManifest(ts, repo, 'multi', list);

    const get = await ts.req('GET', `/v2/${repo}/manifests/multi`, { headers: { accept: V2 } });
    assertStatus(get, 200);
    assert.equal(get.headers['content-type'], V2);
    assert.equal(get.headers['docker-content-digest'], amd.manifest.digest);
    assert.ok(get.body.equals(amd.manifest.bytes));
    const head = await ts.req('HEAD', `/v2/${repo}/manifests/multi`, { headers: { accept: V2 } });
    assertStatus(head, 200);
    assert.equal(head.headers['docker-content-digest'], amd.manifest.digest);
    assert.equal(head.headers['content-length'], String(amd.manifest.size));

    // Clients that accept lists get the list.
    for (const accept of [MediaTypes.DockerManifestList, `${V2}, ${MediaTypes.DockerManifestList}`, '*/*']) {
      const res = await ts.req('GET', `/v2/${repo}/manifests/multi`, { headers: { accept } });
      assertStatus(res, 200);
      assert.equal(res.headers['docker-content-digest'], list.digest);
      assert.ok(res.body.equals(list.bytes));
    }
    // By digest, no rewriting: 404.
    assertError(
      await ts.req('GET', `/v2/${repo}/manifests/${list.digest}`, { headers: { accept: V2 } }),
      404,
      'MANIFEST_UNKNOWN',
    );
  });
});

describe('repository names', () => {
  test('names with slashes and path-like parts are routed from the right', async () => {
    const base = uniqueRepo('path');
    const names = [
      `${base}/x/manifests/y`,
      `${base}/a/blobs/b`,
      `${base}/t/tags/list/z`,
      `${base}/u/blobs/uploads/v`,
      `${base}/r/referrers/s`,
      `${base}/manifests`,
      `${base}/blobs`,
      `${base}/tags`,
    ];
    for (const repo of names) {
      const img = makeImage();
      // Chunked upload through the path-like name, to exercise the upload routes too.
      const post = await ts.req('POST', `/v2/${repo}/blobs/uploads/`);
      assertStatus(post, 202);
      const loc = String(post.headers.location);
      assert.ok(loc.startsWith(`/v2/${repo}/blobs/uploads/`), loc);
      assertStatus(
        await ts.req('PATCH', loc, {
          headers: { 'content-range': `0-${img.config.size - 1}` },
          body: img.config.bytes,
        }),
        202,
      );
      assertStatus(await ts.req('GET', loc), 204);
      assertStatus(await ts.req('PUT', `${loc}?digest=${img.config.digest}`), 201);
      await pushBlob(ts, repo, img.layers[0]!);
      assertPushed(await putManifest(ts, repo, 'latest', img.manifest), repo, img.manifest);
      await assertServed(ts, repo, img.manifest, 'latest');
      const blob = await ts.req('GET', `/v2/${repo}/blobs/${img.layers[0]!.digest}`);
      assertStatus(blob, 200);
      const tags = await ts.req('GET', `/v2/${repo}/tags/list`);
      assert.deepEqual(tags.json(), { name: repo, tags: ['latest'] });
      const refs = await ts.req('GET', `/v2/${repo}/referrers/${img.manifest.digest}`);
      assertStatus(refs, 200);
    }
    // Nothing landed in the prefixes.
    for (const wrong of [`${base}/x`, `${base}/a`, `${base}/t`, `${base}/u`, `${base}/r`, base]) {
      assertError(await ts.req('GET', `/v2/${wrong}/tags/list`), 404, 'NAME_UNKNOWN');
    }
  });

  test('invalid names are 400 NAME_INVALID or 404, never 500', async () => {
    const d = digestOf('x');
    const names = [
      'UPPER',
      'a/B',
      '..',
      'a/../b',
      '%2e%2e',
      'a/%2e%2e/b',
      'a%2Fb',
      'a/',
      'a//b',
      '-a',
      'a-',
      'a..b',
      'a___b',
      '_a',
      'a%20b',
      'x'.repeat(256),
    ];
    const results: string[] = [];
    for (const name of names) {
      for (const [method, path] of [
        ['GET', `/v2/${name}/manifests/latest`],
        ['HEAD', `/v2/${name}/manifests/latest`],
        ['PUT', `/v2/${name}/manifests/latest`],
        ['DELETE', `/v2/${name}/manifests/latest`],
        ['GET', `/v2/${name}/blobs/${d}`],
        ['POST', `/v2/${name}/blobs/uploads/`],
        ['GET', `/v2/${name}/tags/list`],
        ['GET', `/v2/${name}/referrers/${d}`],
      ] as const) {
        const res = await ts.req(
          method,
          path,
          method === 'PUT' ? { headers: { 'content-type': MediaTypes.OciManifest }, body: '{}' } : {},
        );
        const code = method === 'HEAD' || res.body.length === 0 ? '' : errorCodes(res)[0];
        const ok = (res.status === 400 && (code === 'NAME_INVALID' || code === '')) || res.status === 404;
        if (!ok) results.push(`${method} ${path} -> ${res.status} ${res.text().slice(0, 200)}`);
      }
    }
    assert.deepEqual(results, []);
  });
});

describe('manifest delete', () => {
  test('DELETE by tag is 202 and removes only the tag', async () => {
    const repo = uniqueRepo('del');
    const img = makeImage();
    await pushImage(ts, repo, img, 'one');
    await pushManifest(ts, repo, 'two', img.manifest);
    const del = await ts.req('DELETE', `/v2/${repo}/manifests/one`);
    assertStatus(del, 202);
    assertError(await ts.req('GET', `/v2/${repo}/manifests/one`), 404, 'MANIFEST_UNKNOWN');
    await assertServed(ts, repo, img.manifest, 'two');
    await assertServed(ts, repo, img.manifest);
    assert.deepEqual((await ts.req('GET', `/v2/${repo}/tags/list`)).json(), { name: repo, tags: ['two'] });
    assertError(await ts.req('DELETE', `/v2/${repo}/manifests/one`), 404, 'MANIFEST_UNKNOWN');
  });

  test('DELETE by digest is 202 and removes the manifest and every tag pointing at it', async () => {
    const repo = uniqueRepo('del');
    const img = makeImage();
    const keep = makeImage();
    await pushImage(ts, repo, img, 'a');
    await pushManifest(ts, repo, 'b', img.manifest);
    await pushImage(ts, repo, keep, 'keep');
    const del = await ts.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`);
    assertStatus(del, 202);
    for (const ref of ['a', 'b', img.manifest.digest]) {
      assertError(await ts.req('GET', `/v2/${repo}/manifests/${ref}`), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await ts.req('HEAD', `/v2/${repo}/manifests/${ref}`)).status, 404);
    }
    assert.deepEqual((await ts.req('GET', `/v2/${repo}/tags/list`)).json(), { name: repo, tags: ['keep'] });
    await assertServed(ts, repo, keep.manifest, 'keep');
    assertError(await ts.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
    // It can be pushed again.
    assertPushed(await putManifest(ts, repo, 'a', img.manifest), repo, img.manifest);
  });

  test('DELETE of a child manifest still referenced by an index does not 500', async () => {
    const repo = uniqueRepo('del');
    const img = makeImage();
    await pushImage(ts, repo, img);
    const index = makeIndex([{ manifest: img.manifest }]);
    await pushManifest(ts, repo, 'idx', index);
    const del = await ts.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`);
    assert.ok(del.status === 202 || del.status === 400 || del.status === 409, `${del.status} ${del.text()}`);
    assertStatus(await ts.req('GET', `/v2/${repo}/manifests/idx`), 200);
  });

  test('DELETE of unknown manifests is 404 MANIFEST_UNKNOWN', async () => {
    const repo = uniqueRepo('del');
    await pushImage(ts, repo, makeImage(), 'x');
    assertError(await ts.req('DELETE', `/v2/${repo}/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
    assertError(await ts.req('DELETE', `/v2/${repo}/manifests/${digestOf('nope')}`), 404, 'MANIFEST_UNKNOWN');
    assertError(
      await ts.req('DELETE', `/v2/${uniqueRepo('never')}/manifests/${digestOf('nope')}`),
      404,
      'MANIFEST_UNKNOWN',
    );
    assertError(await ts.req('DELETE', `/v2/${repo}/manifests/sha256:bad`), 400, 'DIGEST_INVALID');
  });
});

describe('delete disabled', () => {
  let nodel: MemoryServer;
  before(async () => {
    nodel = await memoryApp({ delete: { enabled: false } });
  });
  after(async () => {
    await nodel?.close();
  });

  test('every DELETE of content is 405 UNSUPPORTED and nothing is removed', async () => {
    const repo = uniqueRepo('nodel');
    const img = makeImage();
    await pushImage(nodel, repo, img, 'tag');
    assertError(await nodel.req('DELETE', `/v2/${repo}/manifests/tag`), 405, 'UNSUPPORTED');
    assertError(await nodel.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`), 405, 'UNSUPPORTED');
    assertError(await nodel.req('DELETE', `/v2/${repo}/blobs/${img.config.digest}`), 405, 'UNSUPPORTED');
    assertError(await nodel.req('DELETE', `/v2/${repo}/manifests/unknown`), 405, 'UNSUPPORTED');
    assertError(await nodel.req('DELETE', `/v2/${repo}/blobs/${digestOf('unknown')}`), 405, 'UNSUPPORTED');
    await assertServed(nodel, repo, img.manifest, 'tag');
    assertStatus(await nodel.req('GET', `/v2/${repo}/blobs/${img.config.digest}`), 200);
  });

  test('cancelling an upload session is not a content delete and still works (204)', async () => {
    // Distribution's storage.delete.enabled governs manifests and blobs only; a client must be able
    // to abandon its own upload.
    const repo = uniqueRepo('nodel');
    const post = await nodel.req('POST', `/v2/${repo}/blobs/uploads/`);
    assertStatus(post, 202);
    assertStatus(await nodel.req('DELETE', String(post.headers.location)), 204);
  });
});
