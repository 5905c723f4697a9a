import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { type TestServer, startTestServer } from '../test/testkit.js';

let ts: TestServer;
before(async () => {
  ts = await startTestServer({ http: { headersTimeout: '1s', idleTimeout: '2s', maxHeaderBytes: '4KiB' } });
});
after(async () => {
  await ts.close();
});

/** Opens a raw connection, writes `head`, and resolves to what the server said and how long until it hung up. */
function raw(head: string, keepWriting = false): Promise<{ text: string; ms: number }> {
  const { hostname, port } = new URL(ts.url);
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = connect(Number(port), hostname);
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    sock.on('data', (d) => (text += d.toString()));
    sock.on('close', () => {
      clearInterval(timer);
      resolve({ text, ms: Date.now() - t0 });
    });
    sock.on('error', () => {});
    sock.write(head);
    // A slow-loris client: one more header byte now and then, never finishing.
    if (keepWriting) timer = setInterval(() => sock.writable && sock.write('a'), 300);
  });
}

test('a client that never finishes its headers is cut off after the headers timeout', async () => {
  const r = await raw('GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ', true);
  assert.ok(r.ms < 5000, `closed after ${r.ms} ms`);
  assert.match(r.text, /^$|408/);
});

test('an oversized header block is refused with 431', async () => {
  const r = await raw(`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 431/);
});

test('an idle keep-alive connection is closed after the idle timeout', async () => {
  const r = await raw('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 200/);
  assert.ok(r.ms >= 1500 && r.ms < 6000, `closed after ${r.ms} ms`);
});

test('open upload sessions per caller are limited (429), and a finished or cancelled one frees a slot', async () => {
  const small = await startTestServer({ limits: { uploadsPerCaller: 3 } });
  try {
    const locs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await small.req('POST', '/v2/up/lim/blobs/uploads/');
      assert.equal(r.status, 202);
      locs.push(r.headers.location as string);
    }
    const over = await small.req('POST', '/v2/up/lim/blobs/uploads/');
    assert.equal(over.status, 429);
    assert.equal(over.json().errors[0].code, 'TOOMANYREQUESTS');
    assert.equal((await small.req('DELETE', locs[0]!)).status, 204);
    assert.equal((await small.req('POST', '/v2/up/lim/blobs/uploads/')).status, 202);
  } finally {
    await small.close();
  }
});
