/**
 * The pull-through cache's live streaming, metrics and retention against a real upstream (a second `kura serve`)
 * behind a slow front: a second client reads a blob being fetched before the fetch completes, both get the same
 * verified bytes; a fetch failing mid-stream fails both and stores nothing; /metrics shows the proxy's counters;
 * retention removes cached content and the next pull fetches it again.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProxy, type Proxy } from './http-proxy.js';
import { assertStatus, makeImage, pushImage, startTestServer, type TestImage, type TestServer } from './testkit.js';

/**
 * How the front sends blobs: forwarded, dribbled in 8 pieces 150 ms apart, dribbled and cut after half, or
 * dribbled whole with one byte changed (same length, wrong digest).
 */
let mode: 'forward' | 'slow' | 'fail' | 'corrupt' = 'forward';
/** When the front sent the last piece of a dribbled blob. */
let sentAt = 0;

let upstream: TestServer;
let front: Proxy;
let cache: TestServer;

before(async () => {
  upstream = await startTestServer();
  front = await startProxy(upstream.url, async (req, res) => {
    if (mode === 'forward' || req.method !== 'GET' || !req.url?.includes('/blobs/sha256:')) return false;
    const whole = Buffer.from((await upstream.req('GET', req.url)).body);
    if (mode === 'corrupt') whole[whole.length >> 1] = whole[whole.length >> 1]! ^ 0xff;
    res.writeHead(200, { 'content-length': whole.length, 'content-type': 'application/octet-stream' });
    const piece = Math.ceil(whole.length / 8);
    const pieces = mode === 'fail' ? 4 : 8;
    for (let i = 0; i < pieces; i++) {
      await new Promise((r) => setTimeout(r, 150));
      res.write(whole.subarray(i * piece, (i + 1) * piece));
    }
    sentAt = Date.now();
    if (mode === 'fail') setTimeout(() => res.destroy(), 50);
    else res.end();
    return true;
  });
  cache = await startTestServer({
    metrics: { enabled: true },
    proxy: { upstreams: [{ name: 'up', url: front.url, allowPrivate: true }] },
    retention: {
      rules: [{ repositories: ['up/old/**'], removeNotPulledWithin: '1ms', removeUntaggedOlderThan: '1ms' }],
    },
  });
});

after(async () => {
  await cache?.close();
  await front?.close();
  await upstream?.close();
});

/** A GET read by hand: when its first body byte came, and the whole body (or the error that ended it). */
function fetchTimed(path: string): Promise<{ firstByteAt: number; body: Buffer; error?: Error }> {
  return new Promise((resolve, reject) => {
    get(`${cache.url}${path}`, { agent: false }, (res) => {
      let firstByteAt = 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        firstByteAt ||= Date.now();
        chunks.push(c);
      });
      const done = (error?: Error) => resolve({ firstByteAt, body: Buffer.concat(chunks), error });
      res.on('end', () => done(res.complete ? undefined : new Error('cut short')));
      res.on('error', done);
      res.on('aborted', () => done(new Error('aborted')));
    }).on('error', reject);
  });
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

async function pullManifest(repo: string, img: TestImage, ref: string): Promise<void> {
  const m = await cache.req('GET', `/v2/${repo}/manifests/${ref}`, { headers: { accept: img.manifest.mediaType } });
  assertStatus(m, 200);
}

/** Waits until the front has seen a GET whose path contains `part`. */
async function frontSaw(part: string): Promise<void> {
  for (let i = 0; i < 200 && !front.seen.some((s) => s.method === 'GET' && s.url.includes(part)); i++)
    await new Promise((r) => setTimeout(r, 10));
}

async function scrape(): Promise<Map<string, number>> {
  const res = await cache.req('GET', '/metrics');
  assertStatus(res, 200);
  const out = new Map<string, number>();
  for (const line of res.text().split('\n')) {
    const m = /^(kura_proxy_\S+) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('pull-through cache: live streams, metrics, retention', () => {
  test('a second client gets a blob being fetched as it arrives; both get the same verified bytes', async () => {
    const img = makeImage({ layerSize: 512 * 1024 });
    await pushImage(upstream, 'team/live', img, 'v1');
    await pullManifest('up/team/live', img, 'v1');
    const layer = img.layers[0]!;
    mode = 'slow';
    try {
      front.seen.length = 0;
      const path = `/v2/up/team/live/blobs/${layer.digest}`;
      const first = fetchTimed(path);
      await frontSaw(layer.digest);
      await new Promise((r) => setTimeout(r, 200));
      const second = fetchTimed(path);
      const [a, b] = await Promise.all([first, second]);
      assert.equal(a.error, undefined);
      assert.equal(b.error, undefined);
      assert.ok(b.firstByteAt > 0 && b.firstByteAt < sentAt, `second client's first byte came before the fetch ended`);
      assert.equal(sha256(a.body), layer.digest);
      assert.deepEqual(b.body, a.body);
      assert.equal(front.seen.filter((s) => s.url.includes(layer.digest)).length, 1, 'one upstream GET');
    } finally {
      mode = 'forward';
    }
    let m = await scrape();
    assert.ok((m.get('kura_proxy_singleflight_joined_total') ?? 0) >= 1, 'the join is counted');
    // The server closes its side of a stream just after the client has read the end.
    for (let i = 0; i < 50 && m.get('kura_proxy_singleflight_waiters') !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      m = await scrape();
    }
    assert.equal(m.get('kura_proxy_singleflight_waiters'), 0, 'no waiter left');
  });

  /**
   * Two clients GET a blob of a new image (the second while the first is in flight) while the upstream misbehaves as
   * `broken` says; then, with the upstream well again, whether the cache stored anything under the blob's digest.
   */
  async function twoClientsWhileUpstream(broken: typeof mode, name: string) {
    const img = makeImage({ layerSize: 512 * 1024 });
    await pushImage(upstream, `team/${name}`, img, 'v1');
    await pullManifest(`up/team/${name}`, img, 'v1');
    const layer = img.layers[0]!;
    const path = `/v2/up/team/${name}/blobs/${layer.digest}`;
    mode = broken;
    let results;
    try {
      front.seen.length = 0;
      const first = fetchTimed(path);
      await frontSaw(layer.digest);
      const second = fetchTimed(path);
      results = await Promise.all([first, second]);
    } finally {
      mode = 'forward';
    }
    const hex = layer.digest.slice('sha256:'.length);
    const files = await readdir(join(cache.dataDir, 'blobs', 'sha256', hex.slice(0, 2))).catch(() => [] as string[]);
    return { layer, path, results, stored: files.includes(hex) };
  }

  test('an upstream failing mid-stream fails both clients and leaves no blob', async () => {
    const { layer, path, results, stored } = await twoClientsWhileUpstream('fail', 'broken');
    for (const r of results)
      assert.ok(r.error !== undefined || r.body.length < layer.size, 'no client got a whole blob');
    assert.ok(!stored, 'no blob stored under the digest');
    assertStatus(await cache.req('GET', path), 200);
  });

  test('wrong bytes of the right length from upstream: no client gets the whole blob, none is stored', async () => {
    const { layer, path, results, stored } = await twoClientsWhileUpstream('corrupt', 'corrupt');
    for (const r of results)
      assert.ok(r.error !== undefined && r.body.length < layer.size, 'no client got a whole blob');
    assert.ok(!stored, 'no blob stored under the digest');
    const again = await cache.req('GET', path);
    assertStatus(again, 200);
    assert.equal(sha256(again.body), layer.digest);
  });

  test('/metrics shows upstream requests by outcome, hits and misses, bytes fetched, breaker state', async () => {
    const img = makeImage({ layers: 2 });
    await pushImage(upstream, 'team/metrics', img, 'v1');
    const before = await scrape();
    for (let i = 0; i < 2; i++) {
      await pullManifest('up/team/metrics', img, img.manifest.digest);
      for (const b of [img.config, ...img.layers])
        assertStatus(await cache.req('GET', `/v2/up/team/metrics/blobs/${b.digest}`), 200);
    }
    assert.equal((await cache.req('GET', '/v2/up/team/none/manifests/v1')).status, 404);
    const m = await scrape();
    const delta = (k: string) => (m.get(k) ?? 0) - (before.get(k) ?? 0);
    assert.equal(delta('kura_proxy_upstream_requests_total{upstream="up",outcome="ok"}'), 4, 'a manifest, 3 blobs');
    assert.equal(delta('kura_proxy_upstream_requests_total{upstream="up",outcome="not_found"}'), 1);
    assert.equal(delta('kura_proxy_cache_requests_total{kind="manifest",result="miss"}'), 1);
    assert.equal(delta('kura_proxy_cache_requests_total{kind="manifest",result="hit"}'), 1);
    assert.equal(delta('kura_proxy_cache_requests_total{kind="blob",result="miss"}'), 3);
    const size = [img.config, ...img.layers].reduce((n, b) => n + b.size, 0);
    assert.equal(delta('kura_proxy_fetched_bytes_total{upstream="up"}'), size);
    assert.equal(m.get('kura_proxy_breaker_state{upstream="up",state="closed"}'), 1);
    assert.equal(m.get('kura_proxy_breaker_state{upstream="up",state="open"}'), 0);
  });

  test('retention removes cached content; the next pull fetches it from upstream again', async () => {
    const img = makeImage();
    await pushImage(upstream, 'old/app', img, 'v1');
    await pullManifest('up/old/app', img, 'v1');
    for (const b of [img.config, ...img.layers])
      assertStatus(await cache.req('GET', `/v2/up/old/app/blobs/${b.digest}`), 200);
    const { registry } = cache.running;
    // Clients get their bytes before the store has made them durable: wait until every blob is committed (a fixed
    // 20 ms lost that race on a busy disk).
    for (const b of [img.config, ...img.layers]) {
      for (
        let i = 0;
        !(await registry.statBlob('up/old/app', b.digest).then(
          () => true,
          () => false,
        ));
        i++
      ) {
        assert.ok(i < 500, `the cache did not store ${b.digest} within 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const plan = await registry.planRetention();
    assert.ok(
      plan.actions.some((a) => JSON.stringify(a).includes('up/old/app')),
      `retention plans to remove the cached image: ${JSON.stringify(plan.actions)}`,
    );
    await registry.applyRetention(plan);
    await registry.applyRetention(await registry.planRetention());
    const gc = await registry.collectGarbage({ graceMs: 0 });
    // (A blob another cached image still uses stays: GC frees only what nothing references.)
    const freed = gc.blobs.map((b) => b.digest as string);
    const gone = [img.config, ...img.layers].filter((b) => freed.includes(b.digest));
    assert.ok(gone.includes(img.layers[0]!), `GC freed the cached layer: ${freed.join(' ')}`);
    front.seen.length = 0;
    await pullManifest('up/old/app', img, 'v1');
    for (const b of [img.config, ...img.layers]) {
      const r = await cache.req('GET', `/v2/up/old/app/blobs/${b.digest}`);
      assert.deepEqual(r.body, b.bytes);
    }
    assert.equal(front.seen.filter((s) => s.method === 'GET' && s.url.includes('/manifests/v1')).length, 1);
    for (const b of gone)
      assert.equal(front.seen.filter((s) => s.method === 'GET' && s.url.includes(b.digest)).length, 1, 'refetched');
  });
});
