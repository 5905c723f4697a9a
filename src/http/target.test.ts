import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { routeTable } from './app.js';
import { BAD_TARGET_PATH, canonicalTarget } from './target.js';
import { makeImage, type Res, type TestServer, startTestServer } from '../test/testkit.js';
import { basic } from '../test/helpers.js';
import { tempDir } from '../test/tempdirs.js';

test('canonicalTarget: unreserved escapes decode to the canonical path; everything ambiguous is refused', () => {
  const ok = (raw: string, url: string) => assert.deepEqual(canonicalTarget(raw), { ok: true, url }, raw);
  const bad = (raw: string) => assert.equal(canonicalTarget(raw).ok, false, raw);
  ok('/v2/team/app/manifests/v1?n=1', '/v2/team/app/manifests/v1?n=1');
  ok('/v2/x/blobs/sha256%3Aabc', '/v2/x/blobs/sha256:abc');
  ok('/v2/x/manifests/a%2Bb', '/v2/x/manifests/a+b');
  ok('/v2/x/manifests/.INVALID_MANIFEST_NAME', '/v2/x/manifests/.INVALID_MANIFEST_NAME');
  ok('/', '/');
  for (const raw of [
    '/%61dmin/v1/accounts',
    '/%762/x/blobs/sha256:abc',
    '/v2/te%4Dm/app/tags/list',
    '/v2/a%2Db/tags/list',
    'http://x/admin/v1/accounts',
    'HTTPS://x/v2/',
    'x:5000',
    '*',
    '//admin/v1/accounts',
    '/admin%2Fv1/accounts',
    '/v2/a/%2e%2e/b/tags/list',
    '/v2/a/../b/tags/list',
    '/v2/./x',
    '/%2561dmin/v1/accounts',
    '/v2/a;b/tags/list',
    '/v2/a%00b/tags/list',
    '/v2/a%zz/tags/list',
    '/v2/a//b/tags/list',
    '/v2/a b/tags/list',
    '/v2/#frag',
  ]) {
    bad(raw);
  }
});

// ---- the generated matrix: every route the app serves, every spelling of its path ----

const dir = tempDir('kura-target-');
const htpasswd = join(dir, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`);

/**
 * One request with the target exactly as given, on its own connection, over a plain socket (Node's
 * HTTP client mangles some targets). Resolves to the status and the headers the matrix compares.
 */
function send(
  url: string,
  method: string,
  target: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string> }> {
  const { hostname, port, host } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    sock.setTimeout(10_000, () => sock.destroy(new Error(`no answer to ${method} ${target}`)));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const head = Buffer.concat(chunks).toString('latin1').split('\r\n\r\n')[0]!.split('\r\n');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '');
      if (!m) return reject(new Error(`connection closed without an answer to ${method} ${target}`));
      const hs: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        hs[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(m[1]), headers: hs });
    });
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    sock.write(
      `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`,
    );
  });
}

/** Concrete paths for a route pattern (a wildcard gets one example per /v2 API route). */
function examples(method: string, url: string, digests: { blob: string; manifest: string }): string[] {
  if (url === '/v2/*') {
    if (method === 'POST') return ['/v2/team/app/blobs/uploads/'];
    return [
      '/v2/team/app/manifests/v1',
      `/v2/team/app/blobs/${digests.blob}`,
      '/v2/team/app/tags/list',
      `/v2/team/app/referrers/${digests.manifest}`,
    ];
  }
  return [url.replace(/:[a-z]+/g, 'bob').replace('*', 'x')];
}

function encodeChar(c: string, upper: boolean): string {
  const hex = c.charCodeAt(0).toString(16);
  return `%${upper ? hex.toUpperCase() : hex}`;
}

/** Every non-canonical spelling of `path`: escapes, dot segments, case, forms of the target. */
function variants(path: string, host: string): { name: string; target: string; sameAsCanonical?: boolean }[] {
  const segs = path.split('/');
  const out: { name: string; target: string; sameAsCanonical?: boolean }[] = [];
  const withSeg = (i: number, s: string) => segs.map((x, j) => (j === i ? s : x)).join('/');
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg === '') continue;
    const letter = seg.search(/[a-zA-Z]/);
    const digit = seg.search(/[0-9]/);
    for (const at of [letter, digit].filter((x) => x >= 0)) {
      for (const upper of [false, true]) {
        const enc = seg.slice(0, at) + encodeChar(seg[at]!, upper) + seg.slice(at + 1);
        out.push({
          name: `escaped ${seg[at]} in segment ${i}${upper ? ' (upper hex)' : ''}`,
          target: withSeg(i, enc),
          sameAsCanonical: true,
        });
      }
      out.push({
        name: `double-escaped ${seg[at]} in segment ${i}`,
        target: withSeg(i, seg.slice(0, at) + '%25' + encodeChar(seg[at]!, false).slice(1) + seg.slice(at + 1)),
      });
    }
    out.push({ name: `upper-case segment ${i}`, target: withSeg(i, seg.toUpperCase()) });
    out.push({ name: `trailing dot on segment ${i}`, target: withSeg(i, seg + '.') });
    out.push({ name: `';' parameter on segment ${i}`, target: withSeg(i, seg + ';x=1') });
    out.push({ name: `%2e%2e before segment ${i}`, target: withSeg(i, `x/%2e%2e/${seg}`) });
    out.push({ name: `../ before segment ${i}`, target: withSeg(i, `x/../${seg}`) });
    out.push({ name: `%2E before segment ${i}`, target: withSeg(i, `%2E/${seg}`) });
    if (i < segs.length - 1 && segs[i + 1] !== '') {
      out.push({
        name: `%2F after segment ${i}`,
        target: segs.slice(0, i + 1).join('/') + '%2F' + segs.slice(i + 1).join('/'),
      });
      out.push({
        name: `%2f after segment ${i}`,
        target: segs.slice(0, i + 1).join('/') + '%2f' + segs.slice(i + 1).join('/'),
      });
    }
  }
  out.push({ name: 'absolute form', target: `http://${host}${path}` });
  out.push({ name: 'absolute form, upper-case scheme', target: `HTTPS://${host}${path}` });
  out.push({ name: 'authority form', target: host });
  out.push({ name: '"//" prefix', target: `/${path}` });
  return out;
}

describe('request-target matrix over every route (security audit C1/H1)', () => {
  let ts: TestServer;
  const digests = { blob: '', manifest: '' };
  before(async () => {
    ts = await startTestServer({
      auth: {
        htpasswd,
        token: { enabled: true },
        admins: ['alice'],
        anonymous: [{ repositories: ['public/**'], actions: ['pull'] }],
        rules: [{ users: ['bob'], repositories: ['team/**'], actions: ['pull'] }],
        lockout: { failures: 0 },
      },
      rateLimits: [
        { action: 'request', limit: 1_000_000, window: '1m' },
        { action: 'pull', limit: 1_000_000, window: '1m' },
      ],
    });
    const img = makeImage();
    const auth = { authorization: basic('alice') };
    for (const c of [img.config, ...img.layers]) {
      assert.equal(
        (await ts.req('POST', `/v2/team/app/blobs/uploads/?digest=${c.digest}`, { body: c.bytes, headers: auth }))
          .status,
        201,
      );
    }
    const put = await ts.req('PUT', '/v2/team/app/manifests/v1', {
      body: img.manifest.bytes,
      headers: { ...auth, 'content-type': img.manifest.mediaType },
    });
    assert.equal(put.status, 201);
    digests.blob = img.config.digest;
    digests.manifest = img.manifest.digest;
  });
  after(async () => {
    await ts.close();
  });

  const summary = (r: { status: number; headers: Record<string, string | string[] | undefined> }) => ({
    status: r.status,
    challenge: r.headers['www-authenticate'] ?? null,
    rateLimited: r.headers['ratelimit-limit'] !== undefined,
  });

  test('the route table covers every family', () => {
    const families = new Set(routeTable(ts.running.app).map((r) => r.family));
    for (const f of ['v2', 'admin', 'token', 'health'])
      assert.ok(families.has(f as never), `no ${f} route in the table`);
  });

  for (const who of ['anonymous', 'bob'] as const) {
    test(
      `each spelling is refused with 400, routes nowhere (404), or is exactly its canonical form: ` + `${who}`,
      async () => {
        const headers: Record<string, string> = who === 'bob' ? { authorization: basic('bob') } : {};
        const host = new URL(ts.url).host;
        const failures: string[] = [];
        let checked = 0;
        for (const route of routeTable(ts.running.app)) {
          if (route.url === BAD_TARGET_PATH || route.method === 'OPTIONS') continue;
          for (const path of examples(route.method, route.url, digests)) {
            // Nothing these callers send may change anything: PUT/PATCH/POST carry no body.
            const canonical = summary(await send(ts.url, route.method, path, headers));
            for (const v of variants(path, host)) {
              let res;
              try {
                res = await send(ts.url, route.method, v.target, headers);
              } catch (e) {
                failures.push(`${route.method} ${v.target} (${v.name}): ${(e as Error).message}`);
                continue;
              }
              checked++;
              const got = summary(res);
              const refused = got.status === 400 || got.status === 404;
              const same = JSON.stringify(got) === JSON.stringify(canonical);
              if (!refused && !same)
                failures.push(
                  `${route.method} ${v.target} (${v.name}): ${JSON.stringify(got)} but canonical ${path}: ` +
                    `${JSON.stringify(canonical)}`,
                );
              if (v.sameAsCanonical && !same && got.status !== 400)
                failures.push(
                  `${route.method} ${v.target} (${v.name}): an escaped unreserved character must be its canonical ` +
                    `form or 400, got ${got.status}`,
                );
              if (got.status < 300 && canonical.status >= 400)
                failures.push(
                  `${route.method} ${v.target} (${v.name}): ${got.status} where the canonical path is refused`,
                );
            }
          }
        }
        assert.deepEqual(failures, []);
        assert.ok(checked > 300, `only ${checked} spellings checked`);
      },
    );
  }

  test('an escaped spelling is authenticated, rate limited and audited as its canonical form', async () => {
    const start = Date.now();
    const bob = { authorization: basic('bob') };
    const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    const canonical = `/v2/team/app/manifests/${digests.manifest}`;
    const escaped = canonical.replace(':', '%3A');
    const first = await ts.req('GET', canonical, { headers: { ...bob, ...accept } });
    const second = await ts.req('GET', escaped, { headers: { ...bob, ...accept } });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const remaining = (r: Res) => Number(String(r.headers['ratelimit-remaining']).split(';')[0]);
    assert.equal(remaining(second), remaining(first) - 1, 'one counter for both spellings');
    assert.equal((await ts.req('GET', escaped)).status, 401, 'anonymous: challenged like the canonical path');
    assert.equal((await ts.req('DELETE', escaped, { headers: bob })).status, 403);
    assert.equal(
      (await ts.req('GET', '/%762/team/app/manifests/v1', { headers: bob })).status,
      400,
      'an escaped letter or digit is refused',
    );
    await ts.restart();
    const events = (
      await ts.req('GET', `/admin/v1/audit?repository=team/app&since=${start}`, {
        headers: { authorization: basic('alice') },
      })
    ).json().events as { actor: string; action: string }[];
    assert.equal(
      events.filter((e) => e.actor === 'bob' && e.action === 'pull').length,
      2,
      'both pulls recorded under team/app',
    );
  });
});
