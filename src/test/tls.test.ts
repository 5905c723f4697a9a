import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { test } from 'node:test';
import { randomImage } from '../oci/random.js';
import { OciLayout } from '../transports/layout/index.js';
import { selfSignedCert } from './distribution.js';
import { hasTool, startKura } from './kura-process.js';
import { tempDir } from './tempdirs.js';

const dir = tempDir('kura-tls-');

/** A self-signed certificate for 127.0.0.1 in this file's folder. */
const makeCert = (name: string) => selfSignedCert(dir, name);

function get(url: string): Promise<{ status: number; headers: Record<string, unknown>; cert: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, agent: false }, (res) => {
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, cert }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The cipher a TLS handshake agreed on, or 'refused'. */
function handshake(port: number, opts: { ciphers: string; maxVersion: 'TLSv1.2' }): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      const name = s.getCipher().name;
      s.end();
      resolve(name);
    });
    s.on('error', () => resolve('refused'));
  });
}

test('HTTPS from certificate files, HSTS on every answer, certificate reloaded on SIGHUP', async () => {
  const first = makeCert('kura-first');
  const second = makeCert('kura-second');
  const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);
  const server = await startKura({ args: ['--tls-cert', live.cert, '--tls-key', live.key] });
  try {
    assert.match(server.url, /^https:\/\//);
    const a = await get(`${server.url}/v2/`);
    assert.equal(a.status, 200);
    assert.equal(a.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(String(a.cert.subject.CN), 'kura-first');
    copyFileSync(second.cert, live.cert);
    copyFileSync(second.key, live.key);
    server.proc.kill('SIGHUP');
    let cn = '';
    for (let i = 0; i < 50 && cn !== 'kura-second'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      cn = String((await get(`${server.url}/v2/`)).cert.subject.CN);
    }
    assert.equal(cn, 'kura-second');
    assert.equal(server.proc.exitCode, null, 'still running');
    // Forward-secret AEAD suites only, before and after the reload (security audit I6).
    const port = Number(new URL(server.url).port);
    assert.equal(
      await handshake(port, { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' }),
      'ECDHE-ECDSA-AES128-GCM-SHA256',
    );
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'AES128-GCM-SHA256']) {
      assert.equal(await handshake(port, { ciphers: cipher, maxVersion: 'TLSv1.2' }), 'refused', cipher);
    }
  } finally {
    await server.stop();
  }
});

/** One HTTPS request with an optional body; the whole answer in memory. */
function send(
  url: string,
  method: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        rejectUnauthorized: false,
        agent: false,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('blobs over HTTPS arrive byte-exact (streamed: sendfile cannot encrypt)', async () => {
  const c = makeCert('kura-blobs');
  const server = await startKura({ args: ['--tls-cert', c.cert, '--tls-key', c.key] });
  try {
    const bytes = randomBytes(5 * 1024 * 1024 + 3);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const put = await send(`${server.url}/v2/tls/blob/blobs/uploads/?digest=${digest}`, 'POST', bytes, {
      'content-type': 'application/octet-stream',
    });
    assert.equal(put.status, 201);
    const got = await send(`${server.url}/v2/tls/blob/blobs/${digest}`, 'GET');
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(bytes));
    const part = await send(`${server.url}/v2/tls/blob/blobs/${digest}`, 'GET', undefined, {
      range: 'bytes=1000-1999',
    });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(bytes.subarray(1000, 2000)));
  } finally {
    await server.stop();
  }
});

test('a certificate without its key is refused at start with a clear error', async () => {
  const c = makeCert('alone');
  await assert.rejects(startKura({ args: ['--tls-cert', c.cert] }), /TLS needs both tls.cert and tls.key/);
});

test(
  'with TLS, the push hints of kura serve are references without a scheme, and skopeo accepts its ' + 'own',
  async (t) => {
    const c = makeCert('kura-hints');
    const server = await startKura({ args: ['--tls-cert', c.cert, '--tls-key', c.key] });
    try {
      const banner = server.logs().stderr;
      const skopeoLine = /skopeo copy (.*)$/m.exec(banner)?.[1];
      assert.ok(skopeoLine, banner);
      assert.doesNotMatch(banner, /docker:\/\/https?:|IMAGE https?:/, 'no scheme inside an image reference');
      assert.match(banner, new RegExp(`podman push --tls-verify=false IMAGE ${server.host}/NAME:TAG`));
      if (!hasTool('skopeo')) return t.skip('skopeo is not installed');
      const layout = join(dir, 'hint-layout');
      await new OciLayout(layout).write('v1', await randomImage({ seed: 9 }));
      const args = skopeoLine
        .split(' ')
        .map((a) => a.replace('oci:DIR:TAG', `oci:${layout}:v1`).replace('NAME:TAG', 'hints/app:v1'));
      execFileSync('skopeo', ['copy', ...args], { stdio: 'pipe' });
      const res = await get(`${server.url}/v2/hints/app/tags/list`);
      assert.equal(res.status, 200);
    } finally {
      await server.stop();
    }
  },
);
