/**
 * Blob pull/delete/mount (end-2, end-10, end-11): raw HTTP requests to the real app
 * on in-memory stores (test/memory-app.ts), without a socket.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../oci/digest.js';
import { assertError, assertStatus, pushBlob, randomBlob, uniqueRepo, type Res } from '../test/testkit.js';
import { useMemoryApp } from '../test/memory-app.js';

const ts = useMemoryApp();

describe('blob GET/HEAD', () => {
  test(
    'HEAD and GET return 200 with Content-Length, Docker-Content-Digest, Accept-Ranges and the exact ' + 'body',
    async () => {
      const repo = uniqueRepo('blobs');
      const data = randomBlob(1000);
      const digest = await pushBlob(ts, repo, data);

      const head = await ts.req('HEAD', `/v2/${repo}/blobs/${digest}`);
      assertStatus(head, 200);
      assert.equal(head.headers['content-length'], '1000');
      assert.equal(head.headers['docker-content-digest'], digest);
      assert.equal(head.headers['accept-ranges'], 'bytes');
      assert.equal(head.body.length, 0);

      const get = await ts.req('GET', `/v2/${repo}/blobs/${digest}`);
      assertStatus(get, 200);
      assert.equal(get.headers['content-length'], '1000');
      assert.equal(get.headers['docker-content-digest'], digest);
      assert.equal(get.headers['accept-ranges'], 'bytes');
      assert.ok(get.body.equals(data), 'GET body differs from the pushed bytes');
    },
  );

  test('Range requests: bytes=a-b, bytes=a-, bytes=-n give 206 with Content-Range', async () => {
    const repo = uniqueRepo('blobs');
    const data = randomBlob(100);
    const digest = await pushBlob(ts, repo, data);
    const cases: [string, number, number][] = [
      ['bytes=10-19', 10, 19],
      ['bytes=90-', 90, 99],
      ['bytes=-5', 95, 99],
      ['bytes=0-0', 0, 0],
      ['bytes=50-1000', 50, 99], // end past the size is clamped (RFC 9110)
      ['bytes=-1000', 0, 99], // suffix longer than the blob: whole blob
    ];
    for (const [range, start, end] of cases) {
      const res = await ts.req('GET', `/v2/${repo}/blobs/${digest}`, { headers: { range } });
      assertStatus(res, 206);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/100`, range);
      assert.equal(res.headers['content-length'], String(end - start + 1), range);
      assert.equal(res.headers['docker-content-digest'], digest);
      assert.ok(res.body.equals(data.subarray(start, end + 1)), `body of ${range}`);
    }
    const head = await ts.req('HEAD', `/v2/${repo}/blobs/${digest}`, { headers: { range: 'bytes=10-19' } });
    assertStatus(head, 206);
    assert.equal(head.headers['content-range'], 'bytes 10-19/100');
    assert.equal(head.headers['content-length'], '10');
    assert.equal(head.body.length, 0);
  });

  test('a range starting at or beyond the size is 416 with Content-Range: bytes */size', async () => {
    const repo = uniqueRepo('blobs');
    const digest = await pushBlob(ts, repo, randomBlob(100));
    const ranges = ['bytes=100-', 'bytes=150-', 'bytes=100-100', 'bytes=150-200', 'bytes=-0'];
    const got: Record<string, string> = {};
    for (const range of ranges) {
      const res = await ts.req('GET', `/v2/${repo}/blobs/${digest}`, { headers: { range } });
      got[range] = `${res.status} ${String(res.headers['content-range'])}`;
    }
    assert.deepEqual(got, Object.fromEntries(ranges.map((r) => [r, '416 bytes */100'])));
  });

  test('invalid or multi-range Range headers are ignored (200, whole blob) as RFC 9110 allows', async () => {
    const repo = uniqueRepo('blobs');
    const data = randomBlob(100);
    const digest = await pushBlob(ts, repo, data);
    for (const range of ['bytes=20-10', 'bytes=150-120', 'bytes=0-1,5-6', 'items=0-5', 'bytes=abc', 'bytes=-']) {
      const res = await ts.req('GET', `/v2/${repo}/blobs/${digest}`, { headers: { range } });
      assert.equal(res.status, 200, range);
      assert.equal(res.headers['content-range'], undefined, range);
      assert.ok(res.body.equals(data), range);
    }
  });

  test('an unknown blob is 404 BLOB_UNKNOWN on GET and HEAD', async () => {
    const repo = uniqueRepo('blobs');
    await pushBlob(ts, repo, randomBlob(10)); // the repository exists
    const missing = digestOf(randomBlob(10));
    assertError(await ts.req('GET', `/v2/${repo}/blobs/${missing}`), 404, 'BLOB_UNKNOWN');
    const head = await ts.req('HEAD', `/v2/${repo}/blobs/${missing}`);
    assert.equal(head.status, 404);
    assert.equal(head.body.length, 0);
    assertError(await ts.req('GET', `/v2/${uniqueRepo('nowhere')}/blobs/${missing}`), 404, 'BLOB_UNKNOWN');
  });

  test('a malformed or unsupported digest is 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('blobs');
    for (const d of [
      'sha256:abc',
      'sha256:' + 'A'.repeat(64),
      'md5:d41d8cd98f00b204e9800998ecf8427e',
      'notadigest',
      'sha512:' + 'a'.repeat(64),
    ]) {
      assertError(await ts.req('GET', `/v2/${repo}/blobs/${d}`), 400, 'DIGEST_INVALID');
    }
    assertError(await ts.req('DELETE', `/v2/${repo}/blobs/sha256:xyz`), 400, 'DIGEST_INVALID');
  });

  test('a blob pushed to another repository is not readable until mounted', async () => {
    const a = uniqueRepo('iso');
    const b = uniqueRepo('iso');
    const data = randomBlob(300);
    const digest = await pushBlob(ts, a, data);
    await pushBlob(ts, b, randomBlob(5)); // b exists
    assertError(await ts.req('GET', `/v2/${b}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    assert.equal((await ts.req('HEAD', `/v2/${b}/blobs/${digest}`)).status, 404);

    const mount = await ts.req('POST', `/v2/${b}/blobs/uploads/?mount=${digest}&from=${a}`);
    assertStatus(mount, 201);
    const get = await ts.req('GET', `/v2/${b}/blobs/${digest}`);
    assertStatus(get, 200);
    assert.ok(get.body.equals(data));
  });

  test('DELETE blob is 202, then the blob is 404; a second DELETE is 404 BLOB_UNKNOWN', async () => {
    const repo = uniqueRepo('blobs');
    const digest = await pushBlob(ts, repo, randomBlob(64));
    const del = await ts.req('DELETE', `/v2/${repo}/blobs/${digest}`);
    assertStatus(del, 202);
    assertError(await ts.req('GET', `/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    assert.equal((await ts.req('HEAD', `/v2/${repo}/blobs/${digest}`)).status, 404);
    assertError(await ts.req('DELETE', `/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });

  test('deleting a blob from one repository leaves it readable in another', async () => {
    const a = uniqueRepo('blobs');
    const b = uniqueRepo('blobs');
    const data = randomBlob(64);
    const digest = await pushBlob(ts, a, data);
    await pushBlob(ts, b, data);
    assertStatus(await ts.req('DELETE', `/v2/${a}/blobs/${digest}`), 202);
    const get = await ts.req('GET', `/v2/${b}/blobs/${digest}`);
    assertStatus(get, 200);
    assert.ok(get.body.equals(data));
  });
});

describe('sha512 blobs', () => {
  test('monolithic POST ?digest=sha512:… is 201 and the blob reads back under its sha512 digest', async () => {
    const repo = uniqueRepo('sha512');
    const data = randomBlob(5000);
    const digest = digestOf(data, 'sha512');
    const res = await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    assertStatus(res, 201);
    assert.equal(res.headers['docker-content-digest'], digest);
    assert.equal(res.headers.location, `/v2/${repo}/blobs/${digest}`);
    const get = await ts.req('GET', `/v2/${repo}/blobs/${digest}`);
    assertStatus(get, 200);
    assert.equal(get.headers['docker-content-digest'], digest);
    assert.ok(get.body.equals(data));
    // The same bytes under their sha256 digest were never pushed.
    assertError(await ts.req('GET', `/v2/${repo}/blobs/${digestOf(data)}`), 404, 'BLOB_UNKNOWN');
  });

  test('a chunked upload closed with a sha512 digest is 201', async () => {
    const repo = uniqueRepo('sha512');
    const data = randomBlob(3000);
    const digest = digestOf(data, 'sha512');
    const post = await ts.req('POST', `/v2/${repo}/blobs/uploads/`);
    assertStatus(post, 202);
    const loc = String(post.headers.location);
    const p1 = await ts.req('PATCH', loc, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': '0-1499' },
      body: data.subarray(0, 1500),
    });
    assertStatus(p1, 202);
    const put = await ts.req('PUT', `${loc}?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': '1500-2999' },
      body: data.subarray(1500),
    });
    assertStatus(put, 201);
    assert.equal(put.headers['docker-content-digest'], digest);
    const get = await ts.req('GET', `/v2/${repo}/blobs/${digest}`);
    assertStatus(get, 200);
    assert.ok(get.body.equals(data));
  });

  test('POST ?digest-algorithm=sha512 then chunks closed with the sha512 digest', async () => {
    const repo = uniqueRepo('sha512');
    const data = randomBlob(2048);
    const digest = digestOf(data, 'sha512');
    const post = await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest-algorithm=sha512`);
    assertStatus(post, 202);
    const loc = String(post.headers.location);
    assertStatus(await ts.req('PATCH', loc, { headers: { 'content-range': '0-2047' }, body: data }), 202);
    const put = await ts.req('PUT', `${loc}?digest=${digest}`);
    assertStatus(put, 201);
    assert.ok((await ts.req('GET', `/v2/${repo}/blobs/${digest}`)).body.equals(data));
  });

  test('an unsupported digest-algorithm is 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('sha512');
    assertError(await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest-algorithm=md5`), 400, 'DIGEST_INVALID');
  });
});

describe('cross-repository mount', () => {
  test('mount from a repository holding the blob is 201 with Location and Docker-Content-Digest', async () => {
    const from = uniqueRepo('mount');
    const to = uniqueRepo('mount');
    const data = randomBlob(256);
    const digest = await pushBlob(ts, from, data);
    const res = await ts.req('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`);
    assertStatus(res, 201);
    assert.equal(res.headers.location, `/v2/${to}/blobs/${digest}`);
    assert.equal(res.headers['docker-content-digest'], digest);
    const get = await ts.req('GET', `/v2/${to}/blobs/${digest}`);
    assertStatus(get, 200);
    assert.ok(get.body.equals(data));
  });

  function assertUploadStarted(res: Res, repo: string): void {
    assertStatus(res, 202);
    const id = String(res.headers['docker-upload-uuid']);
    assert.ok(id.length > 0);
    assert.equal(res.headers.location, `/v2/${repo}/blobs/uploads/${id}`);
    assert.equal(res.headers.range, '0-0');
  }

  test('mount when `from` lacks the blob starts a normal upload (202), even if a third repository has it', async () => {
    const from = uniqueRepo('mount');
    const third = uniqueRepo('mount');
    const to = uniqueRepo('mount');
    await pushBlob(ts, from, randomBlob(8));
    const digest = await pushBlob(ts, third, randomBlob(128));
    const res = await ts.req('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`);
    assertUploadStarted(res, to);
    assertError(await ts.req('GET', `/v2/${to}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    // The started upload works.
    const data = randomBlob(10);
    const put = await ts.req('PUT', `${String(res.headers.location)}?digest=${digestOf(data)}`, { body: data });
    assertStatus(put, 201);
  });

  test('mount from an unknown repository starts a normal upload (202)', async () => {
    const to = uniqueRepo('mount');
    const digest = await pushBlob(ts, uniqueRepo('mount'), randomBlob(16));
    assertUploadStarted(
      await ts.req('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${uniqueRepo('ghost')}`),
      to,
    );
  });

  test('mount without `from` starts a normal upload (202)', async () => {
    const to = uniqueRepo('mount');
    const digest = await pushBlob(ts, uniqueRepo('mount'), randomBlob(16));
    assertUploadStarted(await ts.req('POST', `/v2/${to}/blobs/uploads/?mount=${digest}`), to);
    assertError(await ts.req('GET', `/v2/${to}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });

  test('mount with an invalid `from` name starts a normal upload (202), never 500', async () => {
    const to = uniqueRepo('mount');
    const digest = await pushBlob(ts, uniqueRepo('mount'), randomBlob(16));
    for (const from of ['Upper/Case', '..', '%2e%2e', 'a//b', '']) {
      const res = await ts.req('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`);
      assert.ok(res.status < 500, `from=${from}: ${res.status} ${res.text()}`);
      assertUploadStarted(res, to);
    }
  });
});
