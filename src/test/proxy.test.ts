/**
 * The pull-through cache against a real upstream (a second `kura serve`) behind a counting front: one upstream fetch
 * per manifest and blob under 50 concurrent pulls, stale-if-error with a Warning, TTL revalidation by HEAD, one
 * platform of an index, `ns=` and path-prefix routing, the admin API, and no partial blob after a broken stream.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ServerResponse } from 'node:http';
import { startProxy, type Proxy } from './http-proxy.js';
import {
  assertStatus,
  makeImage,
  makeIndex,
  pushImage,
  pushManifest,
  startTestServer,
  type TestImage,
  type TestServer,
} from './testkit.js';

/** What the front does with each request: forward it, answer 429 or 503 itself, or cut blob streams short. */
let mode: 'forward' | '429' | '503' | 'cut' = 'forward';

function answer(res: ServerResponse, status: number): true {
  res.writeHead(status, { 'retry-after': '1', 'content-type': 'application/json', 'content-length': 2 });
  res.end('{}');
  return true;
}

let upstream: TestServer;
let front: Proxy;
let cache: TestServer;

before(async () => {
  upstream = await startTestServer();
  front = await startProxy(upstream.url, async (req, res, forward) => {
    if (mode === '429') return answer(res, 429);
    if (mode === '503') return answer(res, 503);
    if (mode === 'cut' && req.method === 'GET' && req.url?.includes('/blobs/')) {
      // Headers and the first half of the body, then the connection is cut.
      const whole = await upstream.req('GET', req.url);
      res.writeHead(200, { 'content-length': whole.body.length, 'content-type': 'application/octet-stream' });
      res.write(whole.body.subarray(0, whole.body.length >> 1), () => setTimeout(() => res.destroy(), 50));
      return true;
    }
    if (req.url?.includes('/budget/')) {
      // The upstream's own budget, as Docker Hub reports it.
      await forward(false, (h) => {
        h['ratelimit-limit'] = '100;w=21600';
        h['ratelimit-remaining'] = '76;w=21600';
        h['docker-ratelimit-source'] = '127.0.0.1';
      });
      return true;
    }
    return false;
  });
  cache = await startTestServer({
    proxy: {
      upstreams: [
        { name: 'up', url: front.url, ttl: '200ms', allowPrivate: true, namespaces: ['upstream.example'] },
        { name: 'hub', url: front.url, allowPrivate: true, dockerHubMirror: true },
        { name: 'budget', url: front.url, allowPrivate: true, rateLimit: { requests: 2, window: '1h' } },
      ],
      breaker: { failures: 100, cooldown: '50ms' },
    },
  });
});

after(async () => {
  await cache?.close();
  await front?.close();
  await upstream?.close();
});

/** Requests the front forwarded (or answered) whose path contains `part`. */
function seen(method: string, part: string): number {
  return front.seen.filter((s) => s.method === method && s.url.includes(part)).length;
}

/** Waits out the breaker the front's `Retry-After: 1` opened. */
function recover(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1100));
}

async function pull(path: string, img: TestImage, ref: string, headers: Record<string, string> = {}) {
  const m = await cache.req('GET', `/v2/${path}/manifests/${ref}`, {
    headers: { accept: img.manifest.mediaType, ...headers },
  });
  assertStatus(m, 200);
  assert.deepEqual(m.body, img.manifest.bytes, 'the manifest is served byte-exact');
  for (const b of [img.config, ...img.layers]) {
    const r = await cache.req('GET', `/v2/${path}/blobs/${b.digest}`);
    assertStatus(r, 200);
    assert.deepEqual(r.body, b.bytes);
  }
  return m;
}

describe('pull-through cache', () => {
  test('50 concurrent pulls of an uncached image: one upstream GET per manifest and per blob', async () => {
    const img = makeImage({ layers: 3, layerSize: 256 * 1024 });
    await pushImage(upstream, 'team/app', img, 'v1');
    front.seen.length = 0;
    await Promise.all(Array.from({ length: 50 }, () => pull('up/team/app', img, 'v1')));
    assert.equal(seen('GET', '/manifests/v1'), 1, 'one manifest GET upstream');
    for (const b of [img.config, ...img.layers]) assert.equal(seen('GET', `/blobs/${b.digest}`), 1, b.digest);
    // Cached content is ordinary registry content: listed like any other repository.
    const tags = await cache.req('GET', '/v2/up/team/app/tags/list');
    assert.deepEqual(tags.json().tags, ['v1']);
  });

  test('a tag within its TTL is served without asking upstream; after it, a HEAD revalidates', async () => {
    const img = makeImage();
    await pushImage(upstream, 'team/ttl', img, 'latest');
    await pull('up/team/ttl', img, 'latest');
    front.seen.length = 0;
    await pull('up/team/ttl', img, 'latest');
    assert.equal(front.seen.length, 0, 'nothing upstream within the TTL');
    await new Promise((r) => setTimeout(r, 250));
    await pull('up/team/ttl', img, 'latest');
    assert.equal(seen('HEAD', '/manifests/latest'), 1, 'one HEAD after the TTL');
    assert.equal(seen('GET', '/manifests/latest'), 0, 'no GET: the digest did not change');
    // The tag moves upstream: the next revalidation fetches the new manifest.
    const next = makeImage();
    await pushImage(upstream, 'team/ttl', next, 'latest');
    await new Promise((r) => setTimeout(r, 250));
    await pull('up/team/ttl', next, 'latest');
  });

  for (const failure of ['429', '503'] as const) {
    test(`upstream answering ${failure}: a cached tag past its TTL still pulls, with a Warning`, async () => {
      const img = makeImage();
      await pushImage(upstream, `team/stale${failure}`, img, 'v1');
      await pull(`up/team/stale${failure}`, img, 'v1');
      await new Promise((r) => setTimeout(r, 250));
      mode = failure;
      try {
        const m = await pull(`up/team/stale${failure}`, img, 'v1');
        assert.match(String(m.headers.warning), /^110 kura "Response is stale/);
        // The breaker is open for the upstream's Retry-After: nothing more reaches it, nothing uncached is served.
        const asked = front.seen.length;
        const other = await cache.req('GET', '/v2/up/team/never-cached/manifests/v1');
        assert.equal(other.status, failure === '429' ? 429 : 503, other.text());
        assert.equal(front.seen.length, asked, 'the open breaker kept the request from the upstream');
      } finally {
        mode = 'forward';
        await recover();
      }
      const status = await cache.req('GET', '/admin/v1/proxy');
      assertStatus(status, 200);
      const up = status.json().upstreams.find((u: { name: string }) => u.name === 'up');
      assert.ok(up.failures >= 1, JSON.stringify(up));
      assert.ok(status.json().stats.stale >= 1);
    });
  }

  test('upstream stopped after a first pull: the image still pulls by tag and by digest', async () => {
    const img = makeImage({ layers: 2 });
    await pushImage(upstream, 'team/offline', img, 'v1');
    await pull('up/team/offline', img, 'v1');
    const digestRef = img.manifest.digest;
    await pull('up/team/offline', img, digestRef);
    mode = '503';
    try {
      await new Promise((r) => setTimeout(r, 250));
      await pull('up/team/offline', img, 'v1');
      const before = front.seen.length;
      await pull('up/team/offline', img, digestRef);
      assert.equal(front.seen.length, before, 'a digest never goes upstream again');
    } finally {
      mode = 'forward';
      await recover();
    }
  });

  test('one platform of a 3-platform index: only that platform reaches the cache', async () => {
    const platforms = ['amd64', 'arm64', 's390x'].map((architecture) =>
      makeImage({ platform: { os: 'linux', architecture } }),
    );
    for (const p of platforms) await pushImage(upstream, 'team/multi', p);
    const index = makeIndex(
      platforms.map((p, i) => ({
        manifest: p.manifest,
        platform: { os: 'linux', architecture: ['amd64', 'arm64', 's390x'][i]! },
      })),
    );
    await pushManifest(upstream, 'team/multi', 'v1', index);
    front.seen.length = 0;
    const got = await cache.req('GET', '/v2/up/team/multi/manifests/v1', { headers: { accept: index.mediaType } });
    assertStatus(got, 200);
    assert.deepEqual(got.body, index.bytes);
    await pull('up/team/multi', platforms[1]!, platforms[1]!.manifest.digest);
    for (const other of [platforms[0]!, platforms[2]!]) {
      assert.equal(seen('GET', other.manifest.digest), 0);
      for (const b of [other.config, ...other.layers]) {
        assert.equal(seen('GET', b.digest), 0, 'no blob of another platform is fetched');
        const held = await cache.req('HEAD', `/v2/up/team/multi/blobs/${b.digest}`);
        // A HEAD of a blob not held asks upstream (HEAD, nothing stored): the front saw it, no GET.
        assertStatus(held, 200);
      }
    }
    assert.equal(seen('GET', '/blobs/'), 2, 'config and layer of one platform');
  });

  test('containerd ns= and the Docker Hub mirror route library/ names to their upstreams', async () => {
    const img = makeImage();
    await pushImage(upstream, 'library/nginx', img, 'stable');
    await pull('library/nginx', img, 'stable', {});
    const viaNs = await cache.req('GET', '/v2/library/nginx/manifests/stable?ns=docker.io', {
      headers: { accept: img.manifest.mediaType },
    });
    assertStatus(viaNs, 200);
    assert.equal(viaNs.headers['docker-content-digest'], img.manifest.digest);
    const other = makeImage();
    await pushImage(upstream, 'acme/tool', other, 'v2');
    const m = await cache.req('GET', '/v2/acme/tool/manifests/v2?ns=upstream.example', {
      headers: { accept: other.manifest.mediaType },
    });
    assertStatus(m, 200);
    const b = await cache.req('GET', `/v2/acme/tool/blobs/${other.layers[0]!.digest}?ns=upstream.example`);
    assert.deepEqual(b.body, other.layers[0]!.bytes);
    // Stored under the upstream's prefix, as ordinary repositories.
    const cat = (await cache.req('GET', '/v2/_catalog')).json().repositories as string[];
    assert.ok(cat.includes('hub/library/nginx') && cat.includes('up/acme/tool'), cat.join(' '));
    // A name no upstream serves stays local.
    assert.equal((await cache.req('GET', '/v2/acme/tool/manifests/v2')).status, 404);
  });

  test('the token bucket caps upstream manifest GETs; upstream RateLimit headers reach the admin API', async () => {
    const imgs = [makeImage(), makeImage(), makeImage()];
    for (const [i, img] of imgs.entries()) await pushImage(upstream, `budget/app${i}`, img, 'v1');
    await pull('budget/budget/app0', imgs[0]!, 'v1');
    await pull('budget/budget/app1', imgs[1]!, 'v1');
    const asked = seen('GET', '/budget/app2/manifests/');
    const third = await cache.req('GET', '/v2/budget/budget/app2/manifests/v1');
    assert.equal(third.status, 429, third.text());
    assert.equal(seen('GET', '/budget/app2/manifests/'), asked, 'the spent budget kept the GET from the upstream');
    const status = (await cache.req('GET', '/admin/v1/proxy')).json();
    const budget = status.upstreams.find((u: { name: string }) => u.name === 'budget');
    assert.deepEqual(budget.budget, { limit: 2, left: 0 });
    assert.equal(budget.rateLimit.limit, '100;w=21600');
    assert.equal(budget.rateLimit.remaining, '76;w=21600');
    assert.equal(budget.rateLimit.source, '127.0.0.1');
  });

  test('a blob stream cut short upstream leaves no blob behind, and the next pull fetches it whole', async () => {
    const img = makeImage({ layerSize: 2 * 1024 * 1024 });
    await pushImage(upstream, 'team/cut', img, 'v1');
    await cache.req('GET', '/v2/up/team/cut/manifests/v1', { headers: { accept: img.manifest.mediaType } });
    const layer = img.layers[0]!;
    mode = 'cut';
    try {
      const r = await cache.req('GET', `/v2/up/team/cut/blobs/${layer.digest}`).catch((e: Error) => e);
      assert.ok(r instanceof Error || r.body.length < layer.size, 'the client did not get the whole blob');
    } finally {
      mode = 'forward';
    }
    const hex = layer.digest.slice('sha256:'.length);
    const shard = join(cache.dataDir, 'blobs', 'sha256', hex.slice(0, 2));
    const files = await readdir(shard).catch(() => [] as string[]);
    assert.ok(!files.includes(hex), 'no blob stored under the digest');
    // The failed upload is dropped right after the stream breaks (the client may see the break first).
    const uploads = () => readdir(join(cache.dataDir, 'uploads')).catch(() => [] as string[]);
    for (let i = 0; i < 50 && (await uploads()).length > 0; i++) await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(await uploads(), [], 'no upload left');
    const whole = await cache.req('GET', `/v2/up/team/cut/blobs/${layer.digest}`);
    assert.deepEqual(whole.body, layer.bytes);
  });
});
