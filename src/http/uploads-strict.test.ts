import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { digestOf } from '../oci/digest.js';
import { assertError, assertStatus, pushBlob, randomBlob, uniqueRepo, useTestServer } from '../test/testkit.js';
import { tempDir } from '../test/tempdirs.js';

/**
 * Writes `head` (and `body`) on a raw connection; resolves to the first bytes answered and whether the server hung up.
 */
function rawExchange(
  url: string,
  head: string,
  body?: Buffer,
  waitMs = 3000,
): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname);
    let text = '';
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(done, waitMs);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (/\r\n\r\n/.test(text) && !/^HTTP\/1\.1 100/.test(text)) setTimeout(done, 200);
    });
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.on('error', () => {});
    sock.write(head);
    if (body) sock.write(body);
  });
}

describe('upload sizes are judged on the declared Content-Length', () => {
  const ts = useTestServer({ limits: { blobMaxBytes: '1KiB' } });
  const digest = digestOf('whatever');

  test('over limits.blobMaxBytes with Expect: 100-continue: 413 and never 100 Continue', async () => {
    const repo = uniqueRepo('big');
    const r = await rawExchange(
      ts.url,
      `POST /v2/${repo}/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: ` +
        `100-continue\r\n\r\n`,
    );
    assert.match(r.text, /^HTTP\/1\.1 413 /, r.text.slice(0, 200));
    assert.doesNotMatch(r.text, /100 Continue/);
  });

  test('over the limit without Expect: 413 before the body is read, and the connection closes', async () => {
    const repo = uniqueRepo('big');
    const post = await ts.req('POST', `/v2/${repo}/blobs/uploads/`);
    const loc = String(post.headers.location);
    // Only 10 of the 100000 declared bytes are ever sent: an answer proves nothing waited for the rest.
    const r = await rawExchange(
      ts.url,
      `PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`,
      Buffer.alloc(10),
    );
    assert.match(r.text, /^HTTP\/1\.1 413 /, r.text.slice(0, 200));
    assert.match(r.text, /SIZE_TOO_LARGE/);
    assert.ok(r.closed, 'the unread body is not drained on a kept-alive connection');
    // Within the limit, the same session still works.
    assertStatus(
      await ts.req('PATCH', loc, { headers: { 'content-type': 'application/octet-stream' }, body: randomBlob(100) }),
      202,
    );
  });

  test('a Content-Length above 2^53 is 400 SIZE_INVALID, not "no body"', async () => {
    const repo = uniqueRepo('huge');
    const r = await rawExchange(
      ts.url,
      `POST /v2/${repo}/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: x\r\nContent-Length: ` +
        `18014398509481984\r\n\r\n`,
    );
    assert.match(r.text, /^HTTP\/1\.1 400 /, r.text.slice(0, 200));
    assert.match(r.text, /SIZE_INVALID/);
  });

  test('Range: bytes=0-<huge> is 206 clamped to the end of the blob', async () => {
    const repo = uniqueRepo('range');
    const blob = randomBlob(700);
    const d = await pushBlob(ts, repo, blob);
    for (const range of ['bytes=0-99999999999999999999999', `bytes=0-${2 ** 53}`, 'bytes=100-5000']) {
      const res = await ts.req('GET', `/v2/${repo}/blobs/${d}`, { headers: { range } });
      assertStatus(res, 206);
      const start = range.startsWith('bytes=100') ? 100 : 0;
      assert.equal(res.headers['content-range'], `bytes ${start}-699/700`);
      assert.deepEqual(res.body, blob.subarray(start));
    }
    assertError(
      await ts.req('GET', `/v2/${repo}/blobs/${d}`, { headers: { range: 'bytes=99999999999999999999-' } }),
      416,
      'RANGE_INVALID',
    );
  });
});

test('a client that disconnects mid-upload is logged at info with the route, not as an internal error', async () => {
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const data = await tempDir('kura-disconnect-');
  const child = spawn(
    process.execPath,
    [main, 'serve', '--listen', '127.0.0.1:0', '--data', data, '--log-level', 'info'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no listening line: ${err}`)), 15_000);
      child.stderr.on('data', () => {
        const m = /listening on (http:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const { hostname, port } = new URL(url);
    const post = await new Promise<string>((resolve) => {
      const s = connect(Number(port), hostname, () =>
        s.write('POST /v2/gone/app/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'),
      );
      let t = '';
      s.on('data', (d) => {
        t += d;
        const m = /location: (\S+)/i.exec(t);
        if (m) {
          s.destroy();
          resolve(m[1]!);
        }
      });
    });
    await new Promise<void>((resolve) => {
      const s = connect(Number(port), hostname, () => {
        s.write(`PATCH ${post} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`);
        s.write(Buffer.alloc(5000));
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 300);
      });
    });
    const deadline = Date.now() + 10_000;
    while (!/disconnected mid-request/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const gone = lines.find((l) => l.msg === 'client disconnected mid-request');
    assert.ok(gone, `no disconnect line in: ${out.slice(-2000)}`);
    assert.equal(gone.level, 30, 'info level');
    assert.equal(gone.method, 'PATCH');
    assert.match(String(gone.url), /^\/v2\/gone\/app\/blobs\/uploads\//);
    assert.ok(!lines.some((l) => l.msg === 'internal error'), out.slice(-2000));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(data, { recursive: true, force: true });
  }
});
