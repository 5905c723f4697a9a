import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './testkit.js';
import { OciLayout } from '../transports/layout/index.js';
import { RegistryClient, RegistryRepository } from '../transports/registry/index.js';
import { KURA_MAIN, loadTestImages, makeTestImages, type TestImage } from './kura-process.js';
import { digestOf } from '../oci/digest.js';
import { tempDir } from './tempdirs.js';
import { kuraFailsRunner, kuraOk } from './helpers.js';

const run = promisify(execFile);
const kura = async (...args: string[]) => (await kuraOk(args)).stdout;
const kuraRaw = async (...args: string[]) =>
  (await run(process.execPath, [KURA_MAIN, ...args], { encoding: 'buffer', maxBuffer: 64 << 20 })).stdout as Buffer;
const kuraFails = kuraFailsRunner();

let images: Map<string, TestImage>;
let ts: TestServer;
let host: string;
before(async () => {
  images = await loadTestImages(await makeTestImages());
  ts = await startTestServer();
  host = new URL(ts.url).host;
  const repo = (name: string) => new RegistryRepository(new RegistryClient({ registry: host }), name);
  const layers = images.get('layers')!;
  await repo('cli/layers').write('v1', await new OciLayout(layers.layout).get(layers.tag));
  await repo('cli/layers').write('v2', await new OciLayout(layers.layout).get(layers.tag));
  const multi = images.get('multiarch')!;
  await repo('cli/multiarch').write('latest', await new OciLayout(multi.layout).get(multi.tag));
});
after(() => ts.close());

test('kura inspect: docker’s JSON array, --format templates, --platform, --raw and --config', async () => {
  const img = images.get('layers')!;
  const ref = `${host}/cli/layers:v1`;
  const [doc] = JSON.parse(await kura('inspect', ref)) as Record<string, unknown>[];
  const manifest = JSON.parse(readFileSync(join(img.layout, 'blobs', 'sha256', img.digest.slice(7)), 'utf8')) as {
    config: { digest: string };
  };
  assert.equal(doc!.Id, manifest.config.digest);
  assert.deepEqual(doc!.RepoTags, [ref]);
  assert.deepEqual(doc!.RepoDigests, [`${host}/cli/layers@${img.digest}`]);
  assert.equal(await kura('inspect', '--format', '{{.Architecture}}', ref), 'amd64\n');
  assert.equal(await kura('inspect', '--format', '{{len .RootFS.Layers}}', ref), '4\n');
  assert.equal(
    await kura('inspect', '--format', '[{{.Variant}}] {{json .Metadata}}', ref),
    '[] {"LastTagTime":"0001-01-01T00:00:00Z"}\n',
    'fields JSON omits are empty in templates',
  );
  assert.equal(
    await kura('inspect', '-f', '{{index .Config.Labels "org.opencontainers.image.title"}}', `oci:${img.layout}:v1`),
    'kura-test-layers\n',
  );
  assert.equal(
    await kura('inspect', '--platform', 'linux/arm64', '--format', '{{.Architecture}}', `${host}/cli/multiarch`),
    'arm64\n',
  );
  assert.equal(digestOf(await kuraRaw('inspect', '--raw', `${host}/cli/multiarch`)), images.get('multiarch')!.digest);
  assert.equal(digestOf(await kuraRaw('inspect', '--config', '--raw', ref)), manifest.config.digest);
  assert.equal(digestOf(await kuraRaw('config', `docker://${ref}`)), manifest.config.digest);
  const bad = await kuraFails('inspect', '--format', '{{.Archtecture}}', ref);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /^kura: error: template "\{\{\.Archtecture\}\}", line 1 column 3: can't evaluate field Archtecture/,
  );
  const missing = await kuraFails('inspect', `${host}/cli/layers:nope`);
  assert.match(missing.stderr, /^kura: error: .*cli\/layers:nope: 404 MANIFEST_UNKNOWN/);
});

test('kura history: docker’s table, --no-trunc, --human=false, --format and -q', async () => {
  const ref = `${host}/cli/layers:v1`;
  const table = (await kura('history', ref)).split('\n');
  assert.match(table[0]!, /^IMAGE {10}CREATED {7}CREATED BY {11}SIZE {6}COMMENT$/);
  assert.match(table[1]!, /^[0-9a-f]{12} {3}\d+ years? ago {3}kura-test: layer 4 {3}291B {6}$/);
  assert.match(table[2]!, /^<missing> {6}/);
  assert.equal(table.length, 6);
  assert.equal(
    await kura('history', '--format', '{{.CreatedBy}}', ref),
    'kura-test: layer 4\nkura-test: layer 3\nkura-test: layer 2\nkura-test: layer 1\n',
  );
  assert.match(
    await kura('history', '--human=false', '--no-trunc', '--format', '{{.ID}} {{.CreatedAt}} {{.Size}}', ref),
    /^sha256:[0-9a-f]{64} 2024-01-01T00:00:00Z 291\n<missing> 2024-01-01T00:00:00Z 195\n/,
  );
  assert.equal(
    await kura('history', '-H', '--format', '{{.Size}}', ref),
    await kura('history', '--format', '{{.Size}}', ref),
  );
  assert.match(await kura('history', '-q', ref), /^[0-9a-f]{12}\n<missing>\n<missing>\n<missing>\n$/);
  const json = JSON.parse(await kura('history', '--json', ref)) as { Size: number; Layer: string | null }[];
  assert.equal(json.length, 4);
});

test('kura manifest inspect: the stored manifest with tabs; --verbose per platform', async () => {
  const multi = images.get('multiarch')!;
  const plain = await kura('manifest', 'inspect', `${host}/cli/multiarch`);
  assert.deepEqual(
    JSON.parse(plain),
    JSON.parse(readFileSync(join(multi.layout, 'blobs', 'sha256', multi.digest.slice(7)), 'utf8')),
  );
  assert.match(plain, /^\{\n\t"schemaVersion": 2,/);
  const verbose = JSON.parse(await kura('manifest', 'inspect', '--verbose', `${host}/cli/multiarch`)) as {
    Ref: string;
    Descriptor: { platform: { architecture: string } };
    CompressedSize: number;
  }[];
  assert.deepEqual(
    verbose.map((v) => v.Descriptor.platform.architecture),
    ['amd64', 'arm64'],
  );
  assert.ok(verbose.every((v) => v.Ref.startsWith(`${host}/cli/multiarch:latest@sha256:`) && v.CompressedSize > 0));
});

test('kura export: -o writes FILE through FILE.tmp, stdout gets the same tar, a terminal is refused', async () => {
  const dir = tempDir('kura-export-');
  const file = join(dir, 'rootfs.tar');
  await kura('export', '-o', file, `${host}/cli/layers:v1`);
  assert.ok(existsSync(file) && !existsSync(`${file}.tmp`));
  const list = (await run('tar', ['-tf', file])).stdout.split('\n').filter(Boolean).sort();
  assert.deepEqual(list, [
    './',
    'data/',
    'data/added.txt',
    'data/keep-link',
    'data/keep.txt',
    'data/linked-a.txt',
    'data/linked-b.txt',
    'etc/',
    'etc/kura-release',
    'opq/',
    'opq/new.txt',
  ]);
  assert.ok(
    (await kuraRaw('export', `oci:${images.get('layers')!.layout}:v1`)).equals(readFileSync(file)),
    'the same tar from a layout to stdout',
  );
  const tty = await run('script', [
    '-qec',
    `${process.execPath} ${KURA_MAIN} export ${host}/cli/layers:v1`,
    '/dev/null',
  ]).catch((e: { stdout: string }) => e);
  assert.match(tty.stdout, /kura: error: refusing to write a tar to a terminal; use -o FILE/);
});

/** A fake registry that records each request and answers manifest HEADs with `headers`. */
async function fakeRegistry(
  headers: Record<string, string>,
): Promise<{ host: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.method === 'HEAD' && /^\/v2\/library\/alpine\/manifests\/latest$/.test(req.url ?? '')) {
      res
        .writeHead(200, {
          'content-type': 'application/vnd.oci.image.index.v1+json',
          'docker-content-digest': `sha256:${'a'.repeat(64)}`,
          ...headers,
        })
        .end();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

test(
  'kura ratelimit: one manifest HEAD (not a GET, which would count as a pull), headers parsed; none announced ' +
    'says so',
  async () => {
    const reg = await fakeRegistry({
      'ratelimit-limit': '100;w=21600',
      'ratelimit-remaining': '76;w=21600',
      'docker-ratelimit-source': '192.0.2.1',
    });
    try {
      const out = await kura('ratelimit', `${reg.host}/library/alpine:latest`);
      assert.equal(
        out,
        `registry:  ${reg.host}\nlimit:     100 pulls per 6h (21600 s window)\nremaining: 76\nsource:    192.0.2.1\n`,
      );
      const json = JSON.parse(await kura('ratelimit', '--json', `${reg.host}/library/alpine`));
      assert.deepEqual(json, {
        registry: reg.host,
        repository: 'library/alpine',
        status: 200,
        limit: { count: 100, windowSeconds: 21600 },
        remaining: { count: 76, windowSeconds: 21600 },
        source: '192.0.2.1',
      });
      assert.deepEqual(reg.seen, [
        'HEAD /v2/library/alpine/manifests/latest',
        'HEAD /v2/library/alpine/manifests/latest',
      ]);
      assert.equal(await kura('digest', `${reg.host}/library/alpine`), `sha256:${'a'.repeat(64)}\n`);
      assert.equal(reg.seen[2], 'HEAD /v2/library/alpine/manifests/latest', 'kura digest is one HEAD');
      assert.equal(reg.seen.length, 3);
    } finally {
      await reg.close();
    }
    const plain = await fakeRegistry({});
    try {
      assert.equal(
        await kura('ratelimit', `${plain.host}/library/alpine`),
        `${plain.host} sends no rate-limit headers for library/alpine: it announces no pull limit\n`,
      );
    } finally {
      await plain.close();
    }
  },
);

test('kura digest, tags, catalog and rm against a registry and a layout', async () => {
  const multi = images.get('multiarch')!;
  assert.equal(await kura('digest', `${host}/cli/multiarch`), `${multi.digest}\n`);
  assert.match(await kura('digest', '--platform', 'linux/arm64', `${host}/cli/multiarch`), /^sha256:[0-9a-f]{64}\n$/);
  assert.equal(await kura('tags', `${host}/cli/layers`), 'v1\nv2\n');
  assert.deepEqual(JSON.parse(await kura('tags', '--json', `docker://${host}/cli/layers`)), ['v1', 'v2']);
  const catalog = (await kura('catalog', host)).split('\n').filter(Boolean);
  assert.ok(catalog.includes('cli/layers') && catalog.includes('cli/multiarch'), catalog.join(','));
  assert.equal(JSON.parse(await kura('catalog', '--json', '-n', '1', host)).length, 1);
  assert.match((await kuraFails('rm', `${host}/cli/layers`)).stderr, /name the tag or digest to delete/);
  assert.equal(await kura('rm', `${host}/cli/layers:v2`), `Deleted ${host}/cli/layers:v2\n`);
  assert.equal(await kura('tags', `${host}/cli/layers`), 'v1\n');
  assert.match((await kuraFails('rm', `${host}/cli/layers:v2`)).stderr, /404/);
  const dir = tempDir('kura-rm-');
  cpSync(images.get('layers')!.layout, dir, { recursive: true });
  assert.equal(await kura('tags', `oci:${dir}`), 'v1\n');
  assert.deepEqual(JSON.parse(await kura('rm', '--json', `oci:${dir}:v1`)), { deleted: `oci:${dir}:v1` });
  assert.equal(await kura('tags', `oci:${dir}`), '');
});
