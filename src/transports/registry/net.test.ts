import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../../test/testkit.js';
import type { TransferEvent } from '../../oci/artifact.js';
import type { Digest } from '../../oci/digest.js';
import { parseImageReference } from '../../oci/imageref.js';
import { randomImage } from '../../oci/random.js';
import { freePort, selfSignedCert } from '../../test/distribution.js';
import { startProxy } from '../../test/http-proxy.js';
import { KURA_MAIN } from '../../test/kura-process.js';
import { assertComplete } from '../conformance.js';
import { loadMirrors } from './mirrors.js';
import { RegistryClient } from './client.js';
import { retryAfterMs } from './retry.js';
import type { RegistryResponseError } from './errors.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kura-regnet-'));
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);
const quick = { shutdown: { timeout: '2s' } };
let open: TestServer;
let locked: TestServer;
before(async () => {
  open = await startTestServer(quick);
  locked = await startTestServer({ ...quick, auth: { htpasswd, token: { enabled: true } } });
});
after(async () => {
  await open.close();
  await locked.close();
});
const host = (ts: TestServer) => new URL(ts.url).host;
const alice = { username: 'alice', password: 'alice-pw' };

test('Retry-After is read as seconds or an HTTP date', () => {
  assert.equal(retryAfterMs('3'), 3000);
  const at = retryAfterMs(new Date(Date.now() + 5000).toUTCString()) ?? 0;
  assert.ok(at > 3000 && at <= 5000, String(at));
  assert.equal(retryAfterMs('soon'), undefined);
});

test('429 with Retry-After and 503 are retried, waiting as long as asked, and the copy succeeds', async () => {
  const src = await randomImage({ seed: 101 });
  await new RegistryClient({ registry: host(open) }).repository('retry/app').write('v1', src);
  let manifests = 0;
  let blobs = 0;
  const proxy = await startProxy(open.url, (req, res) => {
    if (req.method === 'GET' && req.url?.includes('/manifests/') && ++manifests <= 2) {
      res
        .writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' })
        .end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
      return true;
    }
    if (req.method === 'GET' && req.url?.includes('/blobs/') && ++blobs === 1) {
      res.writeHead(503).end();
      return true;
    }
    if (req.method === 'GET' && req.url?.includes('/blobs/') && blobs === 2) {
      // A reset connection is retried too.
      blobs++;
      res.socket?.destroy();
      return true;
    }
    return false;
  });
  try {
    // The waits are recorded, not slept: the retry policy's sleep is injectable.
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const got = await new RegistryClient({ registry: proxy.host, retry: { sleep } }).repository('retry/app').get('v1');
    assert.deepEqual(waits.slice(0, 2), [1000, 1000], 'two Retry-After: 1 waited as asked');
    assert.deepEqual(got.manifest, src.manifest);
    await assertComplete(got);
    assert.equal(manifests, 3);
    assert.ok(blobs >= 3);
  } finally {
    await proxy.close();
  }
});

test('a 429 that never ends fails after the bounded attempts; from Docker Hub it names credentials', async () => {
  const proxy = await startProxy(open.url, (_req, res) => {
    res.writeHead(429, { 'retry-after': '1' }).end();
    return true;
  });
  try {
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const repo = new RegistryClient({ registry: proxy.host, retry: { attempts: 3, sleep } }).repository('retry/app');
    await assert.rejects(repo.get('v1'), /429 Too Many Requests from 127\.0\.0\.1:\d+ after 3 attempts/);
    assert.deepEqual(waits, [1000, 1000]);
    const hub = new RegistryClient({
      registry: 'docker.io',
      hubEndpoint: proxy.url,
      retry: { attempts: 2, sleep },
    }).repository('library/busybox');
    await assert.rejects(hub.get('latest'), (e: RegistryResponseError) => {
      assert.match(
        e.message,
        /429 Too Many Requests from docker\.io after 2 attempts: .*; Docker Hub limits pulls; pass credentials/,
      );
      assert.deepEqual([e.code, e.status, e.hint], ['TOOMANYREQUESTS', 429, { option: 'rateLimit' }]);
      return true;
    });
  } finally {
    await proxy.close();
  }
});

test('head() gives the descriptor and Docker Hub rate-limit headers without a GET', async () => {
  const src = await randomImage({ seed: 106 });
  await new RegistryClient({ registry: host(open) }).repository('library/limited').write('latest', src);
  const proxy = await startProxy(open.url, async (req, _res, forward) => {
    if (req.method !== 'HEAD') return false;
    await forward(false, (h) =>
      Object.assign(h, {
        'ratelimit-limit': '100;w=21600',
        'ratelimit-remaining': '97;w=21600',
        'docker-ratelimit-source': '192.0.2.1',
      }),
    );
    return true;
  });
  try {
    const hub = new RegistryClient({ registry: 'docker.io', hubEndpoint: proxy.url }).repository('library/limited');
    const { descriptor, headers } = await hub.head('latest');
    assert.deepEqual(descriptor, src.descriptor);
    assert.equal(headers['ratelimit-limit'], '100;w=21600');
    assert.equal(headers['ratelimit-remaining'], '97;w=21600');
    assert.equal(headers['docker-ratelimit-source'], '192.0.2.1');
    assert.deepEqual(
      proxy.seen.map((r) => r.method),
      ['HEAD'],
    );
  } finally {
    await proxy.close();
  }
});

function* chunksOf(b: Buffer, n: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

test('progress: start, at most one event per MiB, done', async () => {
  const src = await randomImage({ seed: 107, layers: 1, layerSize: 3 * 1024 * 1024 + 100, compression: 'none' });
  const layer = JSON.parse(src.manifest.toString()).layers[0].digest as string;
  const events: TransferEvent[] = [];
  // A source that streams in 64 KiB pieces, as files and sockets do.
  const pieces = {
    open: async (d: { digest: Digest }) => Readable.from(chunksOf(src.blobs.map.get(d.digest)!, 64 * 1024)),
  };
  await new RegistryClient({ registry: host(open) })
    .repository('progress/app')
    .write('v1', { ...src, blobs: pieces }, { onProgress: (e) => events.push(e) });
  const mine = events.filter((e) => e.digest === layer);
  assert.equal(mine[0]!.status, 'start');
  assert.equal(mine.at(-1)!.status, 'done');
  const steps = mine.filter((e) => e.status === 'progress').map((e) => e.complete);
  assert.deepEqual(
    steps,
    [1, 2, 3].map((m) => m * 1024 * 1024),
  );
});

test('a blob GET redirected to another origin is followed without the Authorization header', async () => {
  const src = await randomImage({ seed: 102 });
  await new RegistryClient({ registry: host(locked), credentials: alice }).repository('team/redirect').write('v1', src);
  const storageSeen: IncomingHttpHeaders[] = [];
  const storage = createServer((req, res) => {
    storageSeen.push(req.headers);
    const bytes = src.blobs.map.get(decodeURIComponent(req.url!.slice('/object/'.length)) as Digest);
    if (!bytes) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
  });
  storage.listen(0, '127.0.0.1');
  await new Promise((r) => storage.once('listening', r));
  const storageUrl = `http://127.0.0.1:${(storage.address() as { port: number }).port}`;
  const front = await startProxy(locked.url, (req, res) => {
    const m = /\/blobs\/(sha256:[a-f0-9]+)$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m || !req.headers.authorization) return false;
    res.writeHead(307, { location: `${storageUrl}/object/${m[1]}` }).end();
    return true;
  });
  try {
    const got = await new RegistryClient({ registry: front.host, credentials: alice })
      .repository('team/redirect')
      .get('v1');
    await assertComplete(got);
    assert.equal(storageSeen.length, 3, 'config and two layers came from the storage server');
    for (const h of storageSeen) assert.equal(h.authorization, undefined);
    assert.ok(
      front.seen.some((r) => r.url.includes('/blobs/') && String(r.headers.authorization).startsWith('Bearer ')),
    );
  } finally {
    await front.close();
    await new Promise((r) => storage.close(r));
  }
});

test('--insecure talks HTTPS to a self-signed registry; without it the error names --insecure', async () => {
  const { cert, key } = selfSignedCert(dir, 'kura-tls');
  const tls = await startTestServer({ ...quick, tls: { cert, key } });
  try {
    assert.match(tls.url, /^https:/);
    const src = await randomImage({ seed: 103 });
    const repo = new RegistryClient({ registry: host(tls), insecure: true }).repository('tls/app');
    await repo.write('v1', src);
    await assertComplete(await repo.get('v1'));
    const strict = new RegistryClient({ registry: host(tls), plainHttp: false }).repository('tls/app');
    await assert.rejects(
      strict.get('v1'),
      new RegExp(
        `the TLS certificate of ${host(tls).replace(/\./g, '\\.')} is not trusted \\(\\w+\\); trust its CA with ` +
          `caFile: PATH or certs.d/.*, or set insecure: true`,
      ),
    );
    // The CLI: --insecure works; without it, plain HTTP to a loopback HTTPS server fails naming --insecure.
    const env = { ...process.env, HOME: dir, DOCKER_CONFIG: join(dir, 'docker') };
    const ok = await run(
      process.execPath,
      [KURA_MAIN, 'copy', '-q', '--insecure', `docker://${host(tls)}/tls/app:v1`, `docker://${host(tls)}/tls/copy:v1`],
      { env },
    );
    assert.equal(ok.stdout.trim(), src.descriptor.digest);
    const bad = await run(
      process.execPath,
      [KURA_MAIN, 'copy', '-q', `docker://${host(tls)}/tls/app:v1`, `oci:${join(dir, 'out')}:v1`],
      { env },
    ).catch((e: { code: number; stderr: string }) => e);
    assert.equal((bad as { code: number }).code, 1);
    assert.match((bad as { stderr: string }).stderr, /^kura: error: .*use --insecure.*\n$/);
    // Every command that reads a registry takes it.
    const store = join(dir, 'store-insecure');
    const image = `${host(tls)}/tls/app:v1`;
    const cli = async (...args: string[]) => (await run(process.execPath, [KURA_MAIN, ...args], { env })).stdout.trim();
    assert.equal(await cli('tags', '--insecure', `${host(tls)}/tls/app`), 'v1');
    assert.equal(await cli('digest', '--insecure', image), src.descriptor.digest);
    assert.equal(JSON.parse(await cli('inspect', '--insecure', '--store', store, image)).length, 1);
    assert.equal(await cli('pull', '-q', '--insecure', '--store', store, image), image);
    await cli('save', '--insecure', '--store', join(dir, 'store-save'), '-o', join(dir, 'saved.tar'), image);
  } finally {
    await tls.close();
  }
});

test(
  'Docker Hub reads try each mirror first and fall back on 404 or an unreachable mirror; writes never go to ' +
    'mirrors',
  async () => {
    const mirror = await startTestServer(quick);
    const hub = await startTestServer(quick);
    try {
      const cached = await randomImage({ seed: 104 });
      const hubOnly = await randomImage({ seed: 105 });
      await new RegistryClient({ registry: host(mirror) }).repository('library/cached').write('1', cached);
      await new RegistryClient({ registry: host(hub) }).repository('library/uncached').write('1', hubOnly);
      const dead = `http://127.0.0.1:${await freePort()}`;
      const client = new RegistryClient({ registry: 'docker.io', mirrors: [dead, mirror.url], hubEndpoint: hub.url });
      const ref = parseImageReference('cached:1');
      assert.equal(ref.repository, 'library/cached');
      const a = await client.repository(ref.repository).get('1');
      assert.deepEqual(a.manifest, cached.manifest);
      await assertComplete(a);
      const b = await client.repository('library/uncached').get('1');
      assert.deepEqual(b.manifest, hubOnly.manifest);
      await assertComplete(b);
      await client.repository('library/pushed').write('1', cached);
      assert.deepEqual(
        (await new RegistryClient({ registry: host(hub) }).repository('library/pushed').get('1')).manifest,
        cached.manifest,
      );
      await assert.rejects(new RegistryClient({ registry: host(mirror) }).repository('library/pushed').get('1'), {
        code: /^(MANIFEST_UNKNOWN|NAME_UNKNOWN)$/,
      });
      // Other registries never use the mirrors.
      assert.equal(new RegistryClient({ registry: host(open), mirrors: [mirror.url] }).mirrors.length, 0);
    } finally {
      await mirror.close();
      await hub.close();
    }
  },
);

test('mirrors come from --registry-mirror, else KURA_REGISTRY_MIRRORS, else daemon.json', async () => {
  const xdg = join(dir, 'xdg');
  mkdirSync(join(xdg, 'kura'), { recursive: true });
  writeFileSync(
    join(xdg, 'kura', 'daemon.json'),
    JSON.stringify({ 'registry-mirrors': ['https://mirror.example', '127.0.0.1:5000'], debug: true }),
  );
  const env = { XDG_CONFIG_HOME: xdg, HOME: dir };
  assert.deepEqual((await loadMirrors({ env })).map(String), ['https://mirror.example/', 'http://127.0.0.1:5000/']);
  assert.deepEqual(
    (await loadMirrors({ env: { ...env, KURA_REGISTRY_MIRRORS: 'http://a.test,https://b.test' } })).map(String),
    ['http://a.test/', 'https://b.test/'],
  );
  assert.deepEqual((await loadMirrors({ env, flags: ['https://c.test'] })).map(String), ['https://c.test/']);
  assert.deepEqual(await loadMirrors({ env: { HOME: join(dir, 'nowhere') } }), []);
  writeFileSync(join(xdg, 'kura', 'daemon.json'), '{"registry-mirrors": "oops"}');
  await assert.rejects(loadMirrors({ env }), /"registry-mirrors" must be a list of URLs/);
});
