/**
 * The cache's per-byte work on the thread pool (native/relay.c): the blob digest computed there equals node:crypto's
 * over any chunking, and a cold pull's body written by the helper arrives whole to a fast reader, to a reader that
 * lets the socket fill (the rest through Node's write), and survives a reader that leaves; with `http.sendfile: false`
 * the body is streamed as before. Skips where the helper is not built.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { get, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { chunksCounters } from '../http/chunks-body.js';
import { relayHelper } from '../http/sendfile.js';
import type { Digest } from '../oci/digest.js';
import { ChunkHasher } from '../proxy/hasher.js';
import { startProxy, type Proxy } from './http-proxy.js';
import { pushBlob, startTestServer, type TestServer } from './testkit.js';

const helper = relayHelper();
const skip = helper ? false : 'the native helper is not built (npm install builds it)';

/** Random pieces of `total` bytes, of sizes from 0 to 100 KiB. */
function pieces(total: number): Buffer[] {
  const out: Buffer[] = [];
  for (let left = total; left > 0; ) {
    const n = Math.min(left, Math.floor(Math.random() * 100 * 1024));
    out.push(randomBytes(n));
    left -= n;
  }
  return out;
}

describe('ChunkHasher', { skip }, () => {
  for (const alg of ['sha256', 'sha512'] as const) {
    const what = alg === 'sha256' ? 'many batches' : 'a few';
    test(`${alg} on the thread pool equals node:crypto over ${what}`, async () => {
      const chunks = pieces(alg === 'sha256' ? 12 << 20 : 1 << 20);
      const h = new ChunkHasher(alg, helper!);
      // many chunks at once: the jobs take at most MAX_IOV each, in order
      for (const c of chunks) h.update(c);
      const want = `${alg}:${createHash(alg).update(Buffer.concat(chunks)).digest('hex')}`;
      assert.equal(await h.digest(), want);
      assert.equal(await new ChunkHasher(alg).digest(), `${alg}:${createHash(alg).digest('hex')}`);
    });
  }

  test('chunks given while a job runs, and none at all', async () => {
    const h = new ChunkHasher('sha256', helper!);
    const all: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const c = randomBytes(70_000);
      all.push(c);
      h.update(c);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await h.digest(), `sha256:${createHash('sha256').update(Buffer.concat(all)).digest('hex')}`);
    assert.equal(await new ChunkHasher('sha256', helper!).digest(), `sha256:${createHash('sha256').digest('hex')}`);
  });
});

/** GET of `url` read whole; `pauseMs` before reading, or `leaveAfter` bytes then gone. */
function fetchBody(url: string, o: { pauseMs?: number; leaveAfter?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, (res: IncomingMessage) => {
      if (res.statusCode !== 200) return reject(new Error(`GET ${url}: ${res.statusCode}`));
      const parts: Buffer[] = [];
      let got = 0;
      res.pause();
      setTimeout(() => res.resume(), o.pauseMs ?? 0);
      res.on('data', (c: Buffer) => {
        parts.push(c);
        got += c.length;
        if (o.leaveAfter !== undefined && got >= o.leaveAfter) {
          res.destroy();
          resolve(Buffer.concat(parts));
        }
      });
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('a cold pull written by the helper', { skip, timeout: 120_000 }, () => {
  let upstream: TestServer;
  let cache: TestServer;
  let streamed: TestServer;
  let chunkedFront: Proxy;
  let viaChunked: TestServer;
  const blobs: { digest: string; bytes: Buffer }[] = [];

  before(async () => {
    upstream = await startTestServer();
    const proxy = (url: string) => ({ upstreams: [{ name: 'up', url, allowPrivate: true }] });
    cache = await startTestServer({ proxy: proxy(upstream.url) });
    streamed = await startTestServer({ proxy: proxy(upstream.url), http: { sendfile: false } });
    // an upstream that sends blobs without a length (chunked encoding)
    chunkedFront = await startProxy(upstream.url, async (req, res) => {
      if (req.method !== 'GET' || !req.url?.includes('/blobs/sha256:')) return false;
      const whole = Buffer.from((await upstream.req('GET', req.url)).body);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < whole.length; i += 1 << 20) res.write(whole.subarray(i, i + (1 << 20)));
      res.end();
      return true;
    });
    viaChunked = await startTestServer({ proxy: proxy(chunkedFront.url) });
    for (let i = 0; i < 4; i++) {
      const bytes = randomBytes(24 << 20);
      blobs.push({ digest: await pushBlob(upstream, 'relay/app', bytes), bytes });
    }
  });

  after(async () => {
    await viaChunked?.close();
    await chunkedFront?.close();
    await streamed?.close();
    await cache?.close();
    await upstream?.close();
  });

  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

  test('a fast reader gets every byte, sent by thread-pool jobs', async () => {
    const before = { ...chunksCounters };
    const body = await fetchBody(`${cache.url}/v2/up/relay/app/blobs/${blobs[0]!.digest}`);
    assert.equal(body.length, blobs[0]!.bytes.length);
    assert.equal(sha(body), blobs[0]!.digest);
    assert.equal(chunksCounters.responses, before.responses + 1);
    assert.ok(chunksCounters.jobBytes > before.jobBytes, 'the helper wrote the body');
  });

  test('a reader that lets the socket fill gets the rest through Node, whole', async () => {
    const before = { ...chunksCounters };
    const body = await fetchBody(`${cache.url}/v2/up/relay/app/blobs/${blobs[1]!.digest}`, { pauseMs: 400 });
    assert.equal(sha(body), blobs[1]!.digest);
    assert.ok(chunksCounters.nodeWrites > before.nodeWrites, 'the socket filled and Node waited for room');
  });

  test('a reader that leaves mid-body: the blob is still stored whole, and served again', async () => {
    const part = await fetchBody(`${cache.url}/v2/up/relay/app/blobs/${blobs[2]!.digest}`, { leaveAfter: 1 << 20 });
    assert.ok(part.length < blobs[2]!.bytes.length);
    // the store goes on without the reader (a HEAD through the cache would ask upstream: ask the registry itself)
    const registry = cache.running.registry;
    let stored = false;
    for (let i = 0; i < 100 && !stored; i++) {
      stored = await registry.statBlob('up/relay/app', blobs[2]!.digest as Digest).then(
        () => true,
        () => false,
      );
      if (!stored) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(stored, 'the blob was stored although its first reader left');
    const again = await fetchBody(`${cache.url}/v2/up/relay/app/blobs/${blobs[2]!.digest}`);
    assert.equal(sha(again), blobs[2]!.digest);
  });

  test('an upstream blob of no stated length is streamed (no raw bytes inside chunked encoding)', async () => {
    const before = { ...chunksCounters };
    const body = await fetchBody(`${viaChunked.url}/v2/up/relay/app/blobs/${blobs[0]!.digest}`);
    assert.equal(sha(body), blobs[0]!.digest);
    assert.equal(chunksCounters.responses, before.responses);
  });

  test('with http.sendfile: false the body is a plain stream', async () => {
    const before = { ...chunksCounters };
    const body = await fetchBody(`${streamed.url}/v2/up/relay/app/blobs/${blobs[3]!.digest}`);
    assert.equal(sha(body), blobs[3]!.digest);
    assert.equal(chunksCounters.responses, before.responses);
  });
});
