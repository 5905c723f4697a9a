import assert from 'node:assert/strict';
import { readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveConfigSchema } from '../config/schema.js';
import { digestOf } from '../oci/digest.js';
import { prng } from '../oci/random.js';
import { startServer } from '../server/start.js';
import { tempDir } from '../test/tempdirs.js';

const NASTY_SEGMENTS = [
  '..',
  '%2e%2e',
  '%2E%2E',
  '.',
  '%2f',
  '..%2f..%2fetc',
  '%00',
  '\u0000',
  'a%00b',
  'x'.repeat(300),
  'y'.repeat(5000),
  'UPPER',
  'a..b',
  'a__b',
  '-lead',
  'trail-',
  '%',
  '%zz',
  '~',
  'a b',
  '\\',
  '..\\..',
  'blobs',
  'manifests',
  'uploads',
  'tags',
  'list',
  'referrers',
  '_catalog',
  'sha256:' + 'a'.repeat(64),
  'sha256:' + 'g'.repeat(64),
  'sha512:abc',
  'md5:d41d8cd98f00b204e9800998ecf8427e',
  'sha256:../../../etc/passwd',
  '00000000-0000-0000-0000-000000000000',
  'ok',
  'repo',
  'v1',
  'latest',
];
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'BREW'];
const HEADERS: [string, string[]][] = [
  [
    'Range',
    ['bytes=0-', 'bytes=-0', 'bytes=5-1', 'bytes=99999999999999999999-', 'bytes=a-b', 'items=0-1', 'bytes=0-0,5-9'],
  ],
  ['Content-Range', ['0-0', '5-1', 'bytes 0-9/10', '-1-5', '0-99999999999999999999', 'garbage']],
  [
    'Content-Type',
    [
      'application/vnd.oci.image.manifest.v1+json',
      'application/json; charset=utf-8',
      'text/plain',
      '',
      'application/x-www-form-urlencoded',
    ],
  ],
  ['Accept', ['*/*', 'application/vnd.docker.distribution.manifest.v2+json', '', 'x/y;q=0']],
  ['Authorization', ['Basic', 'Basic !!!', 'Bearer', 'Bearer a.b.c', 'Digest x']],
  ['Content-Length', ['0', '5', '-1', '99999999999']],
];

function pick<T>(r: () => number, xs: T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function randomPath(r: () => number): string {
  const segs: string[] = [];
  const n = 1 + Math.floor(r() * 5);
  for (let i = 0; i < n; i++) segs.push(r() < 0.6 ? pick(r, NASTY_SEGMENTS) : Math.floor(r() * 1e6).toString(36));
  const tail = pick(r, [
    '',
    '/blobs/uploads/',
    '/manifests/' + pick(r, NASTY_SEGMENTS),
    '/blobs/' + pick(r, NASTY_SEGMENTS),
    '/tags/list',
    '/referrers/' + pick(r, NASTY_SEGMENTS),
    '/blobs/uploads/' + pick(r, NASTY_SEGMENTS),
  ]);
  const query =
    r() < 0.4
      ? '?' +
        pick(r, [
          'n=-1',
          'n=abc',
          'n=99999999',
          'last=%00',
          'digest=sha256:zz',
          'mount=x&from=..%2f..',
          'digest=' + digestOf('x'),
          'tag=a&tag=..',
          'artifactType=%ff',
        ])
      : '';
  return (r() < 0.9 ? '/v2/' : '/') + segs.join('/') + tail + query;
}

function randomBody(r: () => number): Buffer {
  return Buffer.from(
    pick(r, [
      '',
      '{',
      '{"schemaVersion":2}',
      '[]',
      'null',
      '{"schemaVersion":2,"config":{"digest":"../x","size":-1},"layers":"no"}',
      '{"manifests":[{"digest":"sha256:..","size":1e309}]}',
      '\u0000\u0001\u0002',
      'x'.repeat(2000),
    ]),
  );
}

/** One raw HTTP/1.1 exchange: anything may go in the request line, even bytes node:http refuses. */
function rawExchange(
  port: number,
  method: string,
  path: string,
  headers: [string, string][],
  body: Buffer,
): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : null);
    };
    sock.setTimeout(5000, () => sock.destroy());
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (/^HTTP\/1\.1 \d{3}/.test(data)) sock.destroy();
    });
    sock.on('close', done);
    sock.on('error', () => {});
    const lines = [
      `${method} ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: close',
      ...headers.map(([k, v]) => `${k}: ${v}`),
    ];
    if (!headers.some(([k]) => k === 'Content-Length')) lines.push(`Content-Length: ${body.length}`);
    sock.write(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]));
  });
}

function listTree(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  return out.sort();
}

test(
  'fuzzing every route with malformed names, digests, ranges, headers, JSON and traversal paths: no 5xx, no ' +
    'crash, nothing outside the data directory',
  async (t) => {
    const parent = tempDir('kura-fuzz-');
    const sentinel = join(parent, 'sentinel.txt');
    writeFileSync(sentinel, 'untouched');
    const dataDir = join(parent, 'data');
    const server = await startServer(
      serveConfigSchema.parse({ listen: '127.0.0.1:0', data: dataDir, log: { level: 'silent' } }),
    );
    const outsideBefore = listTree(parent).filter((p) => !p.startsWith(dataDir));
    const seed = Number(process.env.KURA_FUZZ_SEED ?? 20261127);
    const r = prng(seed);
    const deadline = Date.now() + 15_000;
    const failures: string[] = [];
    let sent = 0;
    try {
      while (sent < 1500 && Date.now() < deadline) {
        const method = pick(r, METHODS);
        const path = randomPath(r);
        const headers: [string, string][] = HEADERS.filter(() => r() < 0.3).map(([k, vs]) => [k, pick(r, vs)]);
        const body = ['PUT', 'POST', 'PATCH'].includes(method) ? randomBody(r) : Buffer.alloc(0);
        const status = await rawExchange(server.port, method, path, headers, body);
        sent++;
        if (status !== null && status >= 500)
          failures.push(
            `${status} ${method} ${JSON.stringify(path)} ${JSON.stringify(headers)} (seed ${seed}, request ${sent})`,
          );
      }
      assert.deepEqual(failures.slice(0, 10), [], `${failures.length} requests got 5xx`);
      assert.ok(sent >= 300, `only ${sent} requests in the time box`);
      t.diagnostic(`${sent} requests, seed ${seed}`);
      const alive = await fetch(`${server.url}/v2/`);
      assert.equal(alive.status, 200, 'the server still answers');
    } finally {
      await server.close();
    }
    assert.equal(readFileSync(sentinel, 'utf8'), 'untouched');
    assert.deepEqual(
      listTree(parent).filter((p) => !p.startsWith(dataDir)),
      outsideBefore,
      'nothing was written outside the data directory',
    );
    for (const p of listTree(dataDir)) assert.ok(!p.includes('..'), p);
  },
);
