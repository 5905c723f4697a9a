/**
 * Base endpoint, health routes, unknown routes and methods, error body shape, limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { digestOf } from '../oci/digest.js';
import {
  assertError,
  assertStatus,
  makeImage,
  pushImage,
  randomBlob,
  rawRequest,
  startTestServer,
  uniqueRepo,
  type ReqOptions,
  type TestServer,
} from '../test/testkit.js';
import { useMemoryApp } from '../test/memory-app.js';

const ts = useMemoryApp();

describe('base and health', () => {
  test('GET /v2/ is 200 with Docker-Distribution-API-Version: registry/2.0 and a JSON body', async () => {
    const res = await ts.req('GET', '/v2/');
    assertStatus(res, 200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), {});
  });

  test('HEAD /v2/ and GET /v2 are 200 with the version header', async () => {
    const head = await ts.req('HEAD', '/v2/');
    assertStatus(head, 200);
    assert.equal(head.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(head.body.length, 0);
    const noSlash = await ts.req('GET', '/v2');
    assertStatus(noSlash, 200);
    assert.equal(noSlash.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('/livez and /readyz are 200', async () => {
    const live = await ts.req('GET', '/livez');
    assertStatus(live, 200);
    assert.deepEqual(live.json(), { status: 'ok' });
    const ready = await ts.req('GET', '/readyz');
    assertStatus(ready, 200);
    assert.deepEqual(ready.json(), { status: 'ok' });
  });

  test('API responses and errors under /v2 carry Docker-Distribution-API-Version', async () => {
    const repo = uniqueRepo('misc');
    const err = await ts.req('GET', `/v2/${repo}/manifests/latest`);
    assert.equal(err.status, 404);
    assert.equal(err.headers['docker-distribution-api-version'], 'registry/2.0');
    const cat = await ts.req('GET', '/v2/_catalog');
    assert.equal(cat.headers['docker-distribution-api-version'], 'registry/2.0');
  });
});

describe('unknown routes and methods', () => {
  test('unknown routes are 404 with a JSON errors body', async () => {
    for (const path of [
      '/nope',
      '/v3/',
      '/v2/nope',
      '/v2/repo/nothing/here',
      '/v2/repo/manifests/',
      '/v2/repo/blobs/',
      '/',
      '/v2/repo/tags/lists',
    ]) {
      const res = await ts.req('GET', path);
      assert.equal(res.status, 404, path);
      assert.match(String(res.headers['content-type']), /^application\/json/, path);
      const body = res.json() as { errors: { code: string; message: string; detail: unknown }[] };
      assert.ok(Array.isArray(body.errors) && body.errors.length === 1, path);
      assert.equal(typeof body.errors[0]!.code, 'string');
      assert.equal(typeof body.errors[0]!.message, 'string');
      assert.ok('detail' in body.errors[0]!);
    }
  });

  test('a known route with an unsupported method is 405 UNSUPPORTED (never 500)', async () => {
    const repo = uniqueRepo('misc');
    const img = makeImage();
    await pushImage(ts, repo, img, 'v1');
    const cases: [string, string][] = [
      ['POST', `/v2/${repo}/manifests/v1`],
      ['PATCH', `/v2/${repo}/manifests/v1`],
      ['POST', `/v2/${repo}/tags/list`],
      ['DELETE', `/v2/${repo}/tags/list`],
      ['PUT', `/v2/${repo}/blobs/${img.config.digest}`],
      ['POST', `/v2/${repo}/blobs/${img.config.digest}`],
      ['GET', `/v2/${repo}/blobs/uploads/`],
      ['PUT', `/v2/${repo}/referrers/${img.manifest.digest}`],
    ];
    const got = [];
    for (const [m, p] of cases) {
      const res = await ts.req(m, p, m === 'GET' ? {} : { body: '' });
      got.push(`${m} ${p} -> ${res.status} ${res.status >= 400 ? res.json().errors[0].code : ''}`);
    }
    assert.deepEqual(
      got,
      cases.map(([m, p]) => `${m} ${p} -> 405 UNSUPPORTED`),
    );
  });

  test('error bodies have the spec shape {errors:[{code,message,detail}]}', async () => {
    const res = await ts.req('GET', `/v2/${uniqueRepo('misc')}/blobs/${digestOf('x')}`);
    assertError(res, 404, 'BLOB_UNKNOWN');
    const e = (res.json() as { errors: Record<string, unknown>[] }).errors[0]!;
    assert.deepEqual(Object.keys(e).sort(), ['code', 'detail', 'message']);
    assert.equal(typeof e.message, 'string');
  });

  test('an invalid Content-Range on PATCH is a 4xx RANGE_INVALID, not 500', async () => {
    const repo = uniqueRepo('misc');
    const post = await ts.req('POST', `/v2/${repo}/blobs/uploads/`);
    const loc = String(post.headers.location);
    for (const cr of ['garbage', '5-2', 'bytes 0-', '-5']) {
      assertError(await ts.req('PATCH', loc, { headers: { 'content-range': cr }, body: 'abc' }), 416, 'RANGE_INVALID');
    }
    // The session is unaffected.
    const st = await ts.req('GET', loc);
    assertStatus(st, 204);
    assert.equal(st.headers.range, '0-0');
  });
});

describe('blob size limit', () => {
  let lim: TestServer;
  const uncaught: Error[] = [];
  const onUncaught = (e: Error) => uncaught.push(e);
  before(async () => {
    lim = await startTestServer({ limits: { blobMaxBytes: '1KiB' } });
    process.on('uncaughtException', onUncaught);
  });
  after(async () => {
    process.off('uncaughtException', onUncaught);
    await lim?.close();
  });

  // One connection per request here (no keep-alive): connection reuse after these errors is tested below.
  const once = (method: string, path: string, opts?: ReqOptions) => rawRequest(lim.url, undefined, method, path, opts);

  test('limits.blobMaxBytes: a blob of the limit is accepted, one byte more is 413 SIZE_TOO_LARGE', async () => {
    const repo = uniqueRepo('lim');
    const ok = randomBlob(1024);
    assertStatus(await once('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(ok)}`, { body: ok }), 201);
    const big = randomBlob(1025);
    assertError(
      await once('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(big)}`, { body: big }),
      413,
      'SIZE_TOO_LARGE',
    );
    // Across chunks.
    const post = await once('POST', `/v2/${repo}/blobs/uploads/`);
    const loc = String(post.headers.location);
    assertStatus(await once('PATCH', loc, { headers: { 'content-range': '0-999' }, body: big.subarray(0, 1000) }), 202);
    assertError(
      await once('PATCH', loc, { headers: { 'content-range': '1000-1024' }, body: big.subarray(1000) }),
      413,
      'SIZE_TOO_LARGE',
    );
    assertError(await once('PATCH', loc, { body: [big.subarray(1000)] }), 413, 'SIZE_TOO_LARGE');
    const st = await once('GET', loc);
    assertStatus(st, 204);
    assert.equal(st.headers.range, '0-999');
  });

  test('an oversize upload raises no uncaught exception (in `kura serve` that kills the process)', async () => {
    const repo = uniqueRepo('lim');
    const big = randomBlob(64 * 1024);
    const before = uncaught.length;
    assertError(
      await once('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(big)}`, { body: big }),
      413,
      'SIZE_TOO_LARGE',
    );
    const post = await once('POST', `/v2/${repo}/blobs/uploads/`);
    assertError(await once('PATCH', String(post.headers.location), { body: [big] }), 413, 'SIZE_TOO_LARGE');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      uncaught.slice(before).map((e) => e.message),
      [],
    );
  });

  test('the keep-alive connection stays usable after an oversize blob upload', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const repo = uniqueRepo('lim');
      const big = randomBlob(256 * 1024);
      const r = await rawRequest(lim.url, agent, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(big)}`, {
        body: big,
        timeoutMs: 5000,
      });
      assertError(r, 413, 'SIZE_TOO_LARGE');
      const next = await rawRequest(lim.url, agent, 'GET', '/v2/', { timeoutMs: 5000 });
      assert.equal(next.status, 200, `next request on the connection: ${next.status} ${next.text()}`);
    } finally {
      agent.destroy();
    }
  });
});

describe('keep-alive after early errors', () => {
  // Connections are a socket matter: this one runs on the on-disk server.
  let sock: TestServer;
  before(async () => {
    sock = await startTestServer();
  });
  after(async () => {
    await sock?.close();
  });

  test('after each error response the same keep-alive connection still serves the next request', async () => {
    const repo = uniqueRepo('ka');
    const img = makeImage();
    await pushImage(sock, repo, img, 'v1');
    const post = await sock.req('POST', `/v2/${repo}/blobs/uploads/`);
    const loc = String(post.headers.location);
    const body = randomBlob(512 * 1024);
    const manyTags = Array.from({ length: 11 }, (_, i) => `tag=t${i}`).join('&');
    const huge = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20);
    const cases: [string, string, ReqOptions, number][] = [
      ['PATCH', loc, { headers: { 'content-range': '5-524292' }, body }, 416],
      ['PATCH', `/v2/${repo}/blobs/uploads/${randomUUID()}`, { body }, 404],
      ['PUT', `/v2/UPPER/manifests/x`, { body }, 400],
      ['POST', `/v2/${repo}/blobs/uploads/?digest=sha256:bad`, { body }, 400],
      ['POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf('x')}`, { body }, 400],
      ['PUT', `/v2/${repo}/manifests/${img.manifest.digest}?${manyTags}`, { body }, 414],
      ['PUT', `/v2/${repo}/manifests/big`, { headers: { 'content-type': img.manifest.mediaType }, body: huge }, 413],
      ['PUT', `/v2/${repo}/manifests/big`, { headers: { 'content-type': img.manifest.mediaType }, body: [huge] }, 413],
      ['PUT', `/v2/${repo}/manifests/bad`, { headers: { 'content-type': img.manifest.mediaType }, body }, 400],
      ['POST', `/v2/${repo}/manifests/v1`, { body }, 405],
      ['PUT', `/v2/${repo}/blobs/uploads/${randomUUID()}?digest=${digestOf('x')}`, { body: [body] }, 404],
    ];
    const problems: string[] = [];
    for (const [method, path, opts, status] of cases) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const r = await rawRequest(sock.url, agent, method, path, { ...opts, timeoutMs: 5000 });
        if (r.status !== status) problems.push(`${method} ${path.slice(0, 80)}: expected ${status}, got ${r.status}`);
        const next = await rawRequest(sock.url, agent, 'GET', '/v2/', { timeoutMs: 5000 });
        if (next.status !== 200)
          problems.push(`${method} ${path.slice(0, 80)}: next request got ${next.status} ${next.text().slice(0, 100)}`);
      } catch (e) {
        problems.push(`${method} ${path.slice(0, 80)}: ${(e as Error).message}`);
      } finally {
        agent.destroy();
      }
    }
    assert.deepEqual(problems, []);
  });
});
