/**
 * The in-memory fixture delivers what a socket would: the request target byte for byte (fastify's
 * own inject() would resolve `..` before the app's target check), repeated headers, chunked bodies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestOf } from '../oci/digest.js';
import { assertError, assertStatus, randomBlob } from './testkit.js';
import { useMemoryApp } from './memory-app.js';

const ts = useMemoryApp();

test('a target with dot segments reaches the app unresolved and is refused there', async () => {
  assertError(await ts.req('GET', '/v2/a/../b/tags/list'), 400, 'NAME_INVALID');
  assertError(await ts.req('GET', '/v2/a/%2e%2e/b/tags/list'), 400, 'NAME_INVALID');
  assertError(await ts.req('GET', '/v2/b/tags/list'), 404, 'NAME_UNKNOWN');
});

test('a chunked body arrives whole, without a Content-Length; the blob reads back', async () => {
  const parts = [randomBlob(1000), randomBlob(1), randomBlob(70_000)];
  const data = Buffer.concat(parts);
  const digest = digestOf(data);
  assertStatus(await ts.req('POST', `/v2/mem/app/blobs/uploads/?digest=${digest}`, { body: parts }), 201);
  const get = await ts.req('GET', `/v2/mem/app/blobs/${digest}`);
  assertStatus(get, 200);
  assert.ok(get.body.equals(data));
  const head = await ts.req('HEAD', `/v2/mem/app/blobs/${digest}`);
  assert.equal(head.headers['content-length'], String(data.length));
  assert.equal(head.body.length, 0);
});
