import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { randomImage } from '../../oci/random.js';
import { RegistryClient } from './client.js';
import { retryAfterText } from './retry.js';

/** A registry that answers every request with 429 and `Retry-After: retryAfter`. */
async function limited(
  retryAfter: string,
): Promise<{ host: string; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const srv = createServer((req, res) => {
    n++;
    req.resume();
    res
      .writeHead(req.url === '/v2/' ? 200 : 429, { 'retry-after': retryAfter, 'content-type': 'application/json' })
      .end(req.url === '/v2/' ? '{}' : '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    requests: () => n,
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

test('a 429 whose Retry-After is beyond the retry budget fails at once, saying until when', async () => {
  const r = await limited(String(5 * 3600 + 50 * 60));
  try {
    const repo = new RegistryClient({ registry: r.host }).repository('busy/app');
    const started = Date.now();
    await assert.rejects(repo.get('v1'), (e: Error) => {
      assert.match(
        e.message,
        /429 Too Many Requests from 127\.0\.0\.1:\d+: rate limited until \d\d:\d\d UTC \(in 5 h 50 m\)/,
      );
      return true;
    });
    assert.equal(r.requests(), 1, 'not retried');
    // An upload's POST is refused the same way: no restarts of the upload.
    const before = r.requests();
    await assert.rejects(
      repo.write('v1', await randomImage({ seed: 3, layers: 1 })),
      /rate limited until .* \(in 5 h 50 m\)/,
    );
    // Three blobs in parallel, each a HEAD and a POST at most: no retries, no restarted uploads.
    assert.ok(r.requests() - before <= 6, `${r.requests() - before} requests`);
    assert.ok(Date.now() - started < 5000, 'no silent waiting');
  } finally {
    await r.close();
  }
});

test('a short Retry-After is still waited for and retried', async () => {
  const r = await limited('0');
  try {
    const repo = new RegistryClient({ registry: r.host, retry: { attempts: 3 } }).repository('busy/app');
    await assert.rejects(
      repo.get('v1'),
      /429 Too Many Requests from .* after 3 attempts: rate limited until \d\d:\d\d UTC \(in 0 s\)/,
    );
    assert.equal(r.requests(), 3);
  } finally {
    await r.close();
  }
});

test('retryAfterText: seconds and HTTP dates, with the day when it is not within the next hours', () => {
  const now = Date.parse('2026-01-01T20:24:00Z');
  assert.equal(retryAfterText('21000', now), 'until 02:14 UTC (in 5 h 50 m)');
  assert.equal(retryAfterText('Thu, 01 Jan 2026 20:30:00 GMT', now), 'until 20:30 UTC (in 6 m)');
  assert.equal(retryAfterText(String(3 * 86400), now), 'until 2026-01-04 20:24 UTC (in 72 h 0 m)');
  assert.equal(retryAfterText(undefined, now), undefined);
});
