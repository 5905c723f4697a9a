/**
 * Blob upload sessions (end-4a/b, end-5, end-6, end-13, end-14): raw HTTP requests to the real app
 * on in-memory stores (test/memory-app.ts), without a socket.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { digestOf } from '../oci/digest.js';
import {
  assertError,
  assertStatus,
  pushBlob,
  randomBlob,
  startTestServer,
  uniqueRepo,
  type Res,
  type Requester,
} from '../test/testkit.js';
import { memoryApp, useMemoryApp } from '../test/memory-app.js';

const ts = useMemoryApp();

const OCTET = { 'content-type': 'application/octet-stream' };

async function startUpload(server: Requester, repo: string): Promise<{ res: Res; loc: string; id: string }> {
  const res = await server.req('POST', `/v2/${repo}/blobs/uploads/`);
  assertStatus(res, 202);
  return { res, loc: String(res.headers.location), id: String(res.headers['docker-upload-uuid']) };
}

/** A PATCH of `body` to an upload session; with `range` ("from-to") as its Content-Range. */
function patch(server: Requester, loc: string, body: Buffer | Buffer[], range?: string): Promise<Res> {
  const headers = range === undefined ? OCTET : { ...OCTET, 'content-range': range };
  return server.req('PATCH', loc, { headers, body });
}

/** The session's progress: GET on it is 204 with this Range. */
async function assertProgress(server: Requester, loc: string, range: string): Promise<Res> {
  const status = await server.req('GET', loc);
  assertStatus(status, 204);
  assert.equal(status.headers.range, range);
  return status;
}

/** A closed upload: 201, with the blob's Location and Docker-Content-Digest. */
function assertCreated(res: Res, repo: string, digest: string): void {
  assertStatus(res, 201);
  assert.equal(res.headers.location, `/v2/${repo}/blobs/${digest}`);
  assert.equal(res.headers['docker-content-digest'], digest);
}

async function assertBlob(server: Requester, repo: string, data: Buffer): Promise<void> {
  const digest = digestOf(data);
  const get = await server.req('GET', `/v2/${repo}/blobs/${digest}`);
  assertStatus(get, 200);
  assert.equal(get.headers['content-length'], String(data.length));
  assert.equal(get.headers['docker-content-digest'], digest);
  assert.ok(get.body.equals(data), 'blob bytes differ');
}

describe('upload session lifecycle', () => {
  test('POST is 202 with Location, Docker-Upload-UUID and Range 0-0', async () => {
    const repo = uniqueRepo('up');
    const { res, loc, id } = await startUpload(ts, repo);
    assert.match(id, /^[A-Za-z0-9-]+$/);
    assert.equal(loc, `/v2/${repo}/blobs/uploads/${id}`);
    assert.equal(res.headers.range, '0-0');
    assert.equal(res.headers['content-length'], '0');
    // Also without the trailing slash.
    const res2 = await ts.req('POST', `/v2/${repo}/blobs/uploads`);
    assertStatus(res2, 202);
    assert.ok(String(res2.headers.location).startsWith(`/v2/${repo}/blobs/uploads/`));
  });

  test('chunked PATCH with Content-Range a-b (no "bytes" prefix) is 202 with Range 0-end; PUT closes 201', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(3000);
    const { loc, id } = await startUpload(ts, repo);
    const p1 = await patch(ts, loc, data.subarray(0, 1000), '0-999');
    assertStatus(p1, 202);
    assert.equal(p1.headers.range, '0-999');
    assert.equal(p1.headers.location, loc);
    assert.equal(p1.headers['docker-upload-uuid'], id);
    const p2 = await patch(ts, loc, data.subarray(1000, 2000), '1000-1999');
    assertStatus(p2, 202);
    assert.equal(p2.headers.range, '0-1999');

    const status = await assertProgress(ts, loc, '0-1999');
    assert.equal(status.headers.location, loc);
    assert.equal(status.headers['docker-upload-uuid'], id);

    const digest = digestOf(data);
    const put = await ts.req('PUT', `${loc}?digest=${digest}`, {
      headers: { ...OCTET, 'content-range': '2000-2999' },
      body: data.subarray(2000),
    });
    assertCreated(put, repo, digest);
    await assertBlob(ts, repo, data);
    // The session is gone.
    assertError(await ts.req('GET', loc), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('PUT ?digest= without a final chunk closes the upload', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(500);
    const { loc } = await startUpload(ts, repo);
    assertStatus(await patch(ts, loc, data, '0-499'), 202);
    const digest = digestOf(data);
    const put = await ts.req('PUT', `${loc}?digest=${digest}`);
    assertCreated(put, repo, digest);
    await assertBlob(ts, repo, data);
  });

  test('PUT ?digest= with the whole blob as the body and no PATCH (POST-PUT monolithic)', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(777);
    const { loc } = await startUpload(ts, repo);
    const put = await ts.req('PUT', `${loc}?digest=${digestOf(data)}`, { headers: OCTET, body: data });
    assertStatus(put, 201);
    await assertBlob(ts, repo, data);
  });

  test('an out-of-order chunk is 416 and the upload keeps its offset', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(200);
    const { loc } = await startUpload(ts, repo);
    // First chunk must start at 0.
    const bad0 = await patch(ts, loc, data.subarray(5, 105), '5-104');
    assertError(bad0, 416, 'RANGE_INVALID');
    assertStatus(await patch(ts, loc, data.subarray(0, 100), '0-99'), 202);
    // A gap and an overlap.
    assertError(await patch(ts, loc, data.subarray(101, 151), '101-150'), 416, 'RANGE_INVALID');
    assertError(await patch(ts, loc, data.subarray(50, 150), '50-149'), 416, 'RANGE_INVALID');
    await assertProgress(ts, loc, '0-99');
    assertStatus(await patch(ts, loc, data.subarray(100), '100-199'), 202);
    assertStatus(await ts.req('PUT', `${loc}?digest=${digestOf(data)}`), 201);
    await assertBlob(ts, repo, data);
  });

  test('streamed PATCH (chunked transfer encoding, no Content-Range, no Content-Length)', async () => {
    const repo = uniqueRepo('up');
    const parts = [randomBlob(10_000), randomBlob(1), randomBlob(65_536), randomBlob(333)];
    const data = Buffer.concat(parts);
    const { loc } = await startUpload(ts, repo);
    const streamed = await patch(ts, loc, parts);
    assertStatus(streamed, 202);
    assert.equal(streamed.headers.range, `0-${data.length - 1}`);
    // A second streamed PATCH appends.
    const more = randomBlob(4321);
    const patch2 = await patch(ts, loc, [more.subarray(0, 1000), more.subarray(1000)]);
    assertStatus(patch2, 202);
    const all = Buffer.concat([data, more]);
    assert.equal(patch2.headers.range, `0-${all.length - 1}`);
    assertStatus(await ts.req('PUT', `${loc}?digest=${digestOf(all)}`), 201);
    await assertBlob(ts, repo, all);
  });

  test('streamed final chunk on PUT (chunked transfer encoding)', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(9000);
    const { loc } = await startUpload(ts, repo);
    assertStatus(await patch(ts, loc, data.subarray(0, 4000), '0-3999'), 202);
    const put = await ts.req('PUT', `${loc}?digest=${digestOf(data)}`, {
      headers: OCTET,
      body: [data.subarray(4000, 6000), data.subarray(6000)],
    });
    assertStatus(put, 201);
    await assertBlob(ts, repo, data);
  });

  test('PUT with the wrong digest is 400 DIGEST_INVALID and no blob appears', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(100);
    const { loc } = await startUpload(ts, repo);
    assertStatus(await patch(ts, loc, data, '0-99'), 202);
    const wrong = digestOf(randomBlob(100));
    assertError(await ts.req('PUT', `${loc}?digest=${wrong}`), 400, 'DIGEST_INVALID');
    assertError(await ts.req('GET', `/v2/${repo}/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
    assertError(await ts.req('GET', `/v2/${repo}/blobs/${digestOf(data)}`), 404, 'BLOB_UNKNOWN');
  });

  test('monolithic POST with the wrong digest is 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(100);
    const wrong = digestOf(randomBlob(100));
    assertError(
      await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${wrong}`, { headers: OCTET, body: data }),
      400,
      'DIGEST_INVALID',
    );
    assertError(await ts.req('GET', `/v2/${repo}/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
  });

  test('PUT without ?digest= and with a malformed digest is 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('up');
    const { loc } = await startUpload(ts, repo);
    assertError(await ts.req('PUT', loc), 400, 'DIGEST_INVALID');
    assertError(await ts.req('PUT', `${loc}?digest=sha256:nothex`), 400, 'DIGEST_INVALID');
    assertError(
      await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=sha256:short`, { body: 'x' }),
      400,
      'DIGEST_INVALID',
    );
  });

  test('a chunk whose length differs from its Content-Range is 400 SIZE_INVALID (PATCH and final PUT)', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(100);
    const { loc } = await startUpload(ts, repo);
    // Content-Range says 50 bytes, Content-Length (and the body) has 40.
    assertError(await patch(ts, loc, data.subarray(0, 40), '0-49'), 400, 'SIZE_INVALID');
    // Content-Range says 10 bytes, the body has 40.
    assertError(await patch(ts, loc, data.subarray(0, 40), '0-9'), 400, 'SIZE_INVALID');
    // Nothing of the failed chunks counts.
    await assertProgress(ts, loc, '0-0');
    assertStatus(await patch(ts, loc, data.subarray(0, 50), '0-49'), 202);
    // Streamed chunk whose Content-Range disagrees with what arrives.
    assertError(await patch(ts, loc, [data.subarray(50, 55), data.subarray(55, 70)], '50-59'), 400, 'SIZE_INVALID');
    await assertProgress(ts, loc, '0-49');
    // Final chunk on PUT with a range-length mismatch.
    assertError(
      await ts.req('PUT', `${loc}?digest=${digestOf(data)}`, {
        headers: { ...OCTET, 'content-range': '50-99' },
        body: data.subarray(50, 90),
      }),
      400,
      'SIZE_INVALID',
    );
    // The session is still at 50 and completes correctly (the rejected bytes are discarded).
    await assertProgress(ts, loc, '0-49');
    const put = await ts.req('PUT', `${loc}?digest=${digestOf(data)}`, {
      headers: { ...OCTET, 'content-range': '50-99' },
      body: data.subarray(50),
    });
    assertStatus(put, 201);
    await assertBlob(ts, repo, data);
  });

  test('a final chunk shorter than its Content-Range on the first request is 400 SIZE_INVALID', async () => {
    // (A body cut short of its own Content-Length is not a valid HTTP/1.1 message; the declared length
    // that can disagree with the bytes is Content-Range.)
    const repo = uniqueRepo('up');
    const data = randomBlob(64);
    const { loc } = await startUpload(ts, repo);
    assertError(
      await ts.req('PUT', `${loc}?digest=${digestOf(data)}`, {
        headers: { ...OCTET, 'content-range': '0-99' },
        body: data,
      }),
      400,
      'SIZE_INVALID',
    );
  });

  test(
    'GET upload is 204 with Range progress; DELETE is 204; then GET/PATCH/PUT/DELETE are 404 ' + 'BLOB_UPLOAD_UNKNOWN',
    async () => {
      const repo = uniqueRepo('up');
      const { loc } = await startUpload(ts, repo);
      let status = await assertProgress(ts, loc, '0-0');
      assertStatus(await patch(ts, loc, randomBlob(10), '0-9'), 202);
      status = await assertProgress(ts, loc, '0-9');
      assert.equal(status.body.length, 0);

      assertStatus(await ts.req('DELETE', loc), 204);
      assertError(await ts.req('GET', loc), 404, 'BLOB_UPLOAD_UNKNOWN');
      assertError(await patch(ts, loc, randomBlob(3)), 404, 'BLOB_UPLOAD_UNKNOWN');
      assertError(await ts.req('PUT', `${loc}?digest=${digestOf(Buffer.alloc(0))}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      assertError(await ts.req('DELETE', loc), 404, 'BLOB_UPLOAD_UNKNOWN');
    },
  );

  test('unknown and garbage upload ids are 404 BLOB_UPLOAD_UNKNOWN, never 500', async () => {
    const repo = uniqueRepo('up');
    await startUpload(ts, repo);
    const ids = [randomUUID(), '..', '%2e%2e', '%2e%2e%2fx', '..%2fx', 'x%00y', 'a'.repeat(200), '%2F', 'ZZZ'];
    for (const id of ids) {
      for (const [method, suffix] of [
        ['GET', ''],
        ['PATCH', ''],
        ['PUT', `?digest=${digestOf('x')}`],
        ['DELETE', ''],
      ] as const) {
        const res = await ts.req(
          method,
          `/v2/${repo}/blobs/uploads/${id}${suffix}`,
          method === 'PATCH' || method === 'PUT' ? { body: 'x' } : {},
        );
        assert.ok(res.status < 500, `${method} id=${id}: ${res.status} ${res.text()}`);
        assertError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
      }
    }
  });

  test('an upload id used under a different repository is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const a = uniqueRepo('up');
    const b = uniqueRepo('up');
    const { id, loc } = await startUpload(ts, a);
    assertStatus(await patch(ts, loc, randomBlob(10), '0-9'), 202);
    const other = `/v2/${b}/blobs/uploads/${id}`;
    assertError(await ts.req('GET', other), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(ts, other, randomBlob(10), '10-19'), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await ts.req('PUT', `${other}?digest=${digestOf('x')}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await ts.req('DELETE', other), 404, 'BLOB_UPLOAD_UNKNOWN');
    // Still intact in its own repository.
    await assertProgress(ts, loc, '0-9');
  });

  test('monolithic POST ?digest= is 201 with Location and Docker-Content-Digest', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(4096);
    const digest = digestOf(data);
    const res = await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: OCTET, body: data });
    assertCreated(res, repo, digest);
    await assertBlob(ts, repo, data);
  });

  test('finalising a digest that already exists succeeds (chunked and monolithic)', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(1234);
    const digest = await pushBlob(ts, repo, data);
    await pushBlob(ts, repo, data);
    const { loc } = await startUpload(ts, repo);
    assertStatus(await patch(ts, loc, data), 202);
    const put = await ts.req('PUT', `${loc}?digest=${digest}`);
    assertStatus(put, 201);
    assert.equal(put.headers['docker-content-digest'], digest);
    // And into another repository that did not have it.
    const other = uniqueRepo('up');
    await pushBlob(ts, other, data);
    await assertBlob(ts, other, data);
    await assertBlob(ts, repo, data);
  });

  test('two concurrent uploads of the same blob both succeed', async () => {
    const repo = uniqueRepo('up');
    const data = randomBlob(2 * 1024 * 1024);
    const digest = digestOf(data);
    const [u1, u2] = await Promise.all([startUpload(ts, repo), startUpload(ts, repo)]);
    assert.notEqual(u1.id, u2.id);
    const half = data.length / 2;
    const chunked = async (loc: string) => {
      assertStatus(await patch(ts, loc, data.subarray(0, half), `0-${half - 1}`), 202);
      return ts.req('PUT', `${loc}?digest=${digest}`, {
        headers: { ...OCTET, 'content-range': `${half}-${data.length - 1}` },
        body: data.subarray(half),
      });
    };
    const results = await Promise.all([
      chunked(u1.loc),
      chunked(u2.loc),
      ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: OCTET, body: data }),
      ts.req('POST', `/v2/${uniqueRepo('up')}/blobs/uploads/?digest=${digest}`, { headers: OCTET, body: data }),
    ]);
    for (const r of results) {
      assertStatus(r, 201);
      assert.equal(r.headers['docker-content-digest'], digest);
    }
    await assertBlob(ts, repo, data);
  });

  test('zero-length blob: monolithic POST', async () => {
    const repo = uniqueRepo('up');
    const empty = Buffer.alloc(0);
    const digest = digestOf(empty);
    const res = await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: OCTET, body: empty });
    assertStatus(res, 201);
    const get = await ts.req('GET', `/v2/${repo}/blobs/${digest}`);
    assertStatus(get, 200);
    assert.equal(get.headers['content-length'], '0');
    assert.equal(get.body.length, 0);
    const head = await ts.req('HEAD', `/v2/${repo}/blobs/${digest}`);
    assertStatus(head, 200);
    assert.equal(head.headers['content-length'], '0');
  });

  test('zero-length blob: POST then PUT ?digest= with no body and no PATCH', async () => {
    // Uses a fresh server so that no earlier test committed the empty blob already.
    const fresh = await memoryApp();
    try {
      const repo = uniqueRepo('up');
      const digest = digestOf(Buffer.alloc(0));
      const { loc } = await startUpload(fresh, repo);
      const put = await fresh.req('PUT', `${loc}?digest=${digest}`);
      assertStatus(put, 201);
      assert.equal(put.headers['docker-content-digest'], digest);
      const get = await fresh.req('GET', `/v2/${repo}/blobs/${digest}`);
      assertStatus(get, 200);
      assert.equal(get.headers['content-length'], '0');
    } finally {
      await fresh.close();
    }
  });

  test('zero-length blob: POST, empty streamed PATCH, PUT', async () => {
    const fresh = await memoryApp();
    try {
      const repo = uniqueRepo('up');
      const digest = digestOf(Buffer.alloc(0));
      const { loc } = await startUpload(fresh, repo);
      assertStatus(await patch(fresh, loc, []), 202);
      assertStatus(await fresh.req('PUT', `${loc}?digest=${digest}`), 201);
      assertStatus(await fresh.req('GET', `/v2/${repo}/blobs/${digest}`), 200);
    } finally {
      await fresh.close();
    }
  });

  test('a 20 MiB blob in 3 chunks reads back with the same sha256', async () => {
    const repo = uniqueRepo('big');
    const size = 20 * 1024 * 1024;
    const data = randomBlob(size);
    const digest = digestOf(data);
    const { loc } = await startUpload(ts, repo);
    const cuts = [0, 7 * 1024 * 1024, 14 * 1024 * 1024 + 17, size];
    for (let i = 0; i < 2; i++) {
      const [s, e] = [cuts[i]!, cuts[i + 1]!];
      const r = await patch(ts, loc, data.subarray(s, e), `${s}-${e - 1}`);
      assertStatus(r, 202);
      assert.equal(r.headers.range, `0-${e - 1}`);
    }
    const put = await ts.req('PUT', `${loc}?digest=${digest}`, {
      headers: { ...OCTET, 'content-range': `${cuts[2]}-${size - 1}` },
      body: data.subarray(cuts[2]),
    });
    assertStatus(put, 201);
    const get = await ts.req('GET', `/v2/${repo}/blobs/${digest}`);
    assertStatus(get, 200);
    assert.equal(get.headers['content-length'], String(size));
    assert.equal(`sha256:${createHash('sha256').update(get.body).digest('hex')}`, digest);
  });
});

describe('uploads across a restart', () => {
  test('a chunked upload survives a server restart: same offset, then completes', async () => {
    const srv = await startTestServer();
    try {
      const repo = uniqueRepo('restart');
      const data = randomBlob(300_000);
      const { loc } = await startUpload(srv, repo);
      assertStatus(await patch(srv, loc, data.subarray(0, 100_000), '0-99999'), 202);
      assertStatus(await patch(srv, loc, [data.subarray(100_000, 150_000), data.subarray(150_000, 200_000)]), 202);

      await srv.restart();

      await assertProgress(srv, loc, '0-199999');
      assertStatus(await patch(srv, loc, data.subarray(200_000, 250_000), '200000-249999'), 202);
      const put = await srv.req('PUT', `${loc}?digest=${digestOf(data)}`, {
        headers: { ...OCTET, 'content-range': '250000-299999' },
        body: data.subarray(250_000),
      });
      assertStatus(put, 201);
      await assertBlob(srv, repo, data);
    } finally {
      await srv.close();
    }
  });

  test('a wrong digest after a restart is still detected (re-hash from storage)', async () => {
    const srv = await startTestServer();
    try {
      const repo = uniqueRepo('restart');
      const data = randomBlob(5000);
      const { loc } = await startUpload(srv, repo);
      assertStatus(await patch(srv, loc, data, '0-4999'), 202);
      await srv.restart();
      assertError(await srv.req('PUT', `${loc}?digest=${digestOf(randomBlob(5000))}`), 400, 'DIGEST_INVALID');
    } finally {
      await srv.close();
    }
  });
});
