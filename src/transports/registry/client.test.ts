import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../../test/testkit.js';
import { KURA_MAIN, loadTestImages, makeTestImages, type TestImage } from '../../test/kura-process.js';
import type { TransferEvent } from '../../oci/artifact.js';
import { randomImage } from '../../oci/random.js';
import { startProxy } from '../../test/http-proxy.js';
import { assertComplete, runTransportConformance } from '../conformance.js';
import { OciLayout } from '../layout/oci-layout.js';
import type { UnauthorizedError } from './errors.js';
import { RegistryClient, RegistryRepository } from './index.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kura-regclient-'));
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\n`);

let images: Map<string, TestImage>;
let open: TestServer;
let token: TestServer;
before(async () => {
  images = await loadTestImages(await makeTestImages());
  // shutdown.timeout: kura serve sometimes leaves a finished blob GET open, and close() would wait 30 s.
  open = await startTestServer({ shutdown: { timeout: '2s' } });
  token = await startTestServer({ auth: { htpasswd, token: { enabled: true } } });
});
after(async () => {
  await open.close();
  await token.close();
});

const host = (ts: TestServer) => new URL(ts.url).host;
// The CLI must not find the credentials of whoever runs the tests.
const cliEnv = {
  ...process.env,
  HOME: dir,
  DOCKER_CONFIG: join(dir, 'docker'),
  XDG_CONFIG_HOME: join(dir, 'xdg'),
  XDG_RUNTIME_DIR: join(dir, 'run'),
};
let counter = 0;

runTransportConformance('registry (kura serve)', {
  create: async () => new RegistryClient({ registry: host(open) }).repository(`conformance/r${++counter}`),
});
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('layout → registry → layout keeps a two-platform index byte-exact; skopeo agrees', async () => {
  const img = images.get('multiarch')!;
  const repo = new RegistryRepository(new RegistryClient({ registry: host(open) }), 'copy/multi');
  const pushed = await repo.write('v1', await new OciLayout(img.layout).get(img.tag));
  assert.equal(pushed.digest, img.digest);
  const raw = (
    await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host(open)}/copy/multi:v1`], {
      encoding: 'buffer',
    })
  ).stdout as Buffer;
  assert.equal(sha(raw), img.digest);
  assert.deepEqual(await repo.tags(), ['v1']);
  const back = mkdtempSync(join(tmpdir(), 'kura-back-'));
  const pulled = await new OciLayout(back).write('latest', await repo.get('v1'));
  assert.equal(pulled.digest, img.digest);
  await run('skopeo', ['copy', '--all', `oci:${back}:latest`, `oci:${mkdtempSync(join(tmpdir(), 'kura-verify-'))}:x`]);
});

test('the token flow: credentials get a token, none are refused with a line that says what to do', async () => {
  const img = images.get('tiny')!;
  const withCreds = new RegistryRepository(
    new RegistryClient({ registry: host(token), credentials: { username: 'alice', password: 'alice-pw' } }),
    'team/tiny',
  );
  assert.equal((await withCreds.write('1', await new OciLayout(img.layout).get(img.tag))).digest, img.digest);
  const anon = new RegistryRepository(new RegistryClient({ registry: host(token) }), 'team/tiny');
  await assert.rejects(anon.get('1'), (e: UnauthorizedError) => {
    // The library names its option; the CLI words the same hint as `kura login` (below).
    assert.match(e.message, new RegExp(`401 from ${host(token)}: pass credentials \\(or a keychain that has them\\)$`));
    assert.deepEqual(
      [e.code, e.status, e.registry, e.repository, e.hint],
      [
        'UNAUTHORIZED',
        401,
        host(token),
        'team/tiny',
        { option: 'credentials', registry: host(token), situation: 'missing' },
      ],
    );
    return true;
  });
  const wrong = new RegistryRepository(
    new RegistryClient({ registry: host(token), credentials: { username: 'alice', password: 'bad' } }),
    'team/tiny',
  );
  await assert.rejects(wrong.get('1'), /the credentials for "alice" were refused; pass the right credentials$/);
});

test('kura copy with skopeo transport names', async () => {
  const img = images.get('layers')!;
  const { stdout } = await run(
    process.execPath,
    [
      KURA_MAIN,
      'copy',
      `oci:${img.layout}:${img.tag}`,
      `docker://${host(token)}/team/layers:v1`,
      '--dest-creds',
      'alice:alice-pw',
    ],
    { env: cliEnv },
  );
  assert.equal(stdout.trim(), img.digest);
  const out = mkdtempSync(join(tmpdir(), 'kura-copy-cli-'));
  await run(
    process.execPath,
    [KURA_MAIN, 'copy', `docker://${host(token)}/team/layers:v1`, `oci:${out}:v1`, '--src-creds', 'alice:alice-pw'],
    { env: cliEnv },
  );
  assert.equal((await new OciLayout(out).get('v1')).descriptor.digest, img.digest);
  const bad = await run(
    process.execPath,
    [KURA_MAIN, 'copy', `docker://${host(token)}/team/layers:v1`, `oci:${out}:v2`],
    { env: cliEnv },
  ).catch((e: { code: number; stderr: string }) => e);
  assert.equal((bad as { code: number }).code, 1);
  assert.match((bad as { stderr: string }).stderr, /^kura: error: .*401 from .*: run "kura login .*" first\n$/);
});

test('an unreachable registry is one line naming the address and the fix', async () => {
  // A port that was free a moment ago: nothing listens there.
  const { createServer } = await import('node:net');
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  const repo = new RegistryRepository(new RegistryClient({ registry: `127.0.0.1:${port}` }), 'x/y');
  await assert.rejects(
    repo.get('latest'),
    new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); check the address`),
  );
});

test('a copy between two repositories of one registry mounts every blob and uploads nothing', async () => {
  const proxy = await startProxy(open.url);
  try {
    const client = new RegistryClient({ registry: proxy.host });
    const src = await randomImage({ seed: 91, layers: 3 });
    await client.repository('mount/a').write('v1', src);
    const before = proxy.seen.length;
    const events: TransferEvent[] = [];
    const a = await client.repository('mount/a').get('v1');
    await client.repository('mount/b').write('v1', a, { onProgress: (e) => events.push(e) });
    const during = proxy.seen.slice(before);
    assert.deepEqual(
      events.map((e) => e.status),
      ['mounted', 'mounted', 'mounted', 'mounted'],
    );
    assert.equal(
      during.filter(
        (r) => r.method === 'POST' && /mount=sha256%3A|mount=sha256:/.test(r.url) && /from=mount%2Fa/.test(r.url),
      ).length,
      4,
    );
    assert.equal(during.filter((r) => r.method === 'PUT' || r.method === 'PATCH').length, 1, 'only the manifest PUT');
    await assertComplete(await client.repository('mount/b').get('v1'));
    // A second write of the same image finds every blob there: skipped, not mounted.
    const again: TransferEvent[] = [];
    await client.repository('mount/b').write('v2', a, { onProgress: (e) => again.push(e) });
    assert.deepEqual(
      again.map((e) => e.status),
      ['skipped', 'skipped', 'skipped', 'skipped'],
    );
  } finally {
    await proxy.close();
  }
});

test(
  'chunked uploads send Content-Range chunks, and a chunk whose answer was lost goes on from the offset the ' +
    'registry has',
  async () => {
    let patches = 0;
    const proxy = await startProxy(open.url, async (req, _res, forward) => {
      if (req.method !== 'PATCH' || ++patches !== 3) return false;
      // The registry takes the layer's second chunk, but the client never hears so.
      await forward(true);
      return true;
    });
    try {
      const client = new RegistryClient({ registry: proxy.host, chunkSize: 1000, parallel: 1 });
      const src = await randomImage({ seed: 92, layers: 1, layerSize: 5000, compression: 'none' });
      const events: TransferEvent[] = [];
      await client.repository('chunks/app').write('v1', src, { onProgress: (e) => events.push(e) });
      const got = await new RegistryClient({ registry: host(open) }).repository('chunks/app').get('v1');
      await assertComplete(got);
      const ranges = proxy.seen.filter((r) => r.method === 'PATCH').map((r) => String(r.headers['content-range']));
      const config = JSON.parse(src.manifest.toString()).config.size as number;
      // Config, then the layer; after the lost answer: the same chunk again (416), an upload status GET, the next
      // chunk.
      assert.deepEqual(
        ranges.slice(0, 5),
        [`0-${config - 1}`, '0-999', '1000-1999', '1000-1999', '2000-2999'],
        ranges.join(' '),
      );
      assert.ok(proxy.seen.some((r) => r.method === 'GET' && r.url.includes('/blobs/uploads/')));
      assert.deepEqual(events.filter((e) => e.status === 'done').length, 2);
    } finally {
      await proxy.close();
    }
  },
);

test('tags and the catalog follow Link pages', async () => {
  const proxy = await startProxy(open.url);
  try {
    const client = new RegistryClient({ registry: proxy.host });
    const repo = client.repository('pages/app');
    const img = await randomImage({ seed: 93 });
    for (const t of ['a', 'b', 'c', 'd', 'e']) await repo.write(t, img);
    assert.deepEqual((await repo.tags(2)).sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(proxy.seen.filter((r) => r.url.includes('/tags/list')).length, 3);
    const all = await client.catalog(1);
    assert.ok(all.includes('pages/app'));
    assert.equal(new Set(all).size, all.length);
    // One repository per page: as many pages as repositories (and maybe an empty last one).
    assert.ok(proxy.seen.filter((r) => r.url.includes('/_catalog')).length >= all.length);
  } finally {
    await proxy.close();
  }
});

test(
  'an upload that fails with 503 starts again with a new session; OCI-Chunk-Min-Length raises the chunk ' + 'size',
  async () => {
    let puts = 0;
    let posts = 0;
    const proxy = await startProxy(open.url, async (req, res, forward) => {
      if (req.method === 'PUT' && req.url?.includes('/blobs/uploads/') && ++puts === 1) {
        req.resume();
        await new Promise((r) => req.on('end', r));
        res.writeHead(503).end();
        return true;
      }
      if (req.method === 'POST' && req.url?.includes('/blobs/uploads/')) {
        posts++;
        await forward(false, (h) => {
          h['oci-chunk-min-length'] = '2000';
        });
        return true;
      }
      return false;
    });
    try {
      const src = await randomImage({ seed: 94, layers: 1, layerSize: 5000, compression: 'none' });
      const monolithic = new RegistryClient({ registry: proxy.host, parallel: 1 });
      await monolithic.repository('restart/app').write('v1', src);
      assert.equal(posts, 4, 'the push-rights probe; config: two sessions (the first PUT failed); layer: one');
      await assertComplete(await monolithic.repository('restart/app').get('v1'));
      const before = proxy.seen.length;
      await new RegistryClient({ registry: proxy.host, chunkSize: 1000, parallel: 1 })
        .repository('restart/chunks')
        .write('v1', src);
      const ranges = proxy.seen
        .slice(before)
        .filter((r) => r.method === 'PATCH')
        .map((r) => String(r.headers['content-range']));
      assert.deepEqual(ranges.slice(1, 4), ['0-1999', '2000-3999', '4000-5999']);
    } finally {
      await proxy.close();
    }
  },
);

test(
  'a POST that is always 503 fails after the retry attempts, without restarting the upload on top of ' + 'them',
  async () => {
    let posts = 0;
    const proxy = await startProxy(open.url, (req, res) => {
      if (req.method !== 'POST' || !/\/v2\/.+\/blobs\/uploads\//.test(req.url ?? '')) return false;
      posts++;
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}');
      return true;
    });
    try {
      const attempts = 3;
      const client = new RegistryClient({
        registry: proxy.host,
        parallel: 1,
        retry: { attempts, baseDelayMs: 1, maxDelayMs: 5 },
      });
      const src = await randomImage({ seed: 95, layers: 1, layerSize: 1000, compression: 'none' });
      await assert.rejects(
        client.repository('busy/app').write('v1', src),
        new RegExp(`503 from ${proxy.host.replace(/\./g, '\\.')} after ${attempts} attempts`),
      );
      assert.equal(posts, attempts, `the registry saw ${posts} upload starts for one blob`);
    } finally {
      await proxy.close();
    }
  },
);
