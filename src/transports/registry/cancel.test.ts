/**
 * Bounding the registry client: the idle timeout (a registry that accepts and never answers, one
 * that stops in the middle of a body), AbortSignal on the client and per call (an in-flight pull to
 * an OCI layout leaves nothing behind), and a retry wait cut short by the signal.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { MediaTypes } from '../../oci/mediatypes.js';
import { randomImage } from '../../oci/random.js';
import { OciLayout } from '../layout/oci-layout.js';
import { RegistryClient } from './client.js';
import { cliMessage } from '../../cli/hints.js';
import { RegistryTimeoutError } from './errors.js';
import { dispatcherFor, sendOnce } from './http.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-cancel-'));
const servers: { close(): void }[] = [];
after(() => servers.forEach((s) => s.close()));

/** A TCP server that accepts connections and never says a word; returns its host. */
async function silent(): Promise<{ host: string; connections: () => number }> {
  const sockets: Socket[] = [];
  const srv = createServer((s) => void sockets.push(s.on('error', () => undefined)));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  servers.push({ close: () => (sockets.forEach((s) => s.destroy()), srv.close()) });
  return { host: `127.0.0.1:${(srv.address() as { port: number }).port}`, connections: () => sockets.length };
}

/**
 * A registry with one image (`app:v1`) whose layer is sent half and then never finished, and whose
 * `busy` repository answers 503 with `Retry-After: 30`.
 */
async function stalling(): Promise<{ host: string; layerDigest: string }> {
  const img = await randomImage({ seed: 7, layers: 1, layerSize: 4 << 20, compression: 'none' });
  const layer = JSON.parse(img.manifest.toString()).layers[0] as { digest: string; size: number };
  const srv: Server = createHttpServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/v2/busy/')) return res.writeHead(503, { 'retry-after': '30' }).end();
    if (url === '/v2/app/manifests/v1')
      return res.writeHead(200, { 'content-type': MediaTypes.OciManifest }).end(img.manifest);
    const m = /^\/v2\/app\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url);
    const blob = m && img.blobs.map.get(m[1] as never);
    if (!blob) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': blob.length });
    if (m[1] === layer.digest) res.write(blob.subarray(0, blob.length >> 1));
    else res.end(blob);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  servers.push({ close: () => (srv.closeAllConnections(), srv.close()) });
  return { host: `127.0.0.1:${(srv.address() as { port: number }).port}`, layerDigest: layer.digest };
}

test(
  'a registry that accepts and never answers: get() fails with a RegistryTimeoutError after the idle timeout',
  { timeout: 10_000 },
  async () => {
    const s = await silent();
    const repo = new RegistryClient({ registry: s.host, idleTimeoutMs: 300 }).repository('x/app');
    const t0 = Date.now();
    await assert.rejects(repo.get('v1'), (e: RegistryTimeoutError) => {
      assert.ok(e instanceof RegistryTimeoutError);
      assert.equal(e.code, 'IDLE_TIMEOUT');
      assert.equal(e.registry, s.host);
      assert.match(e.message, /sent nothing for 300 ms \(\/v2\/x\/app\/manifests\/v1\); .*raise idleTimeoutMs/);
      assert.match(cliMessage(e, e.message), /; the registry is stuck or unreachable; try again later$/);
      return true;
    });
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 3000, `${took} ms`);
    assert.equal(s.connections(), 1, 'an idle timeout is not retried');
  },
);

test('the idle timeout also bounds an answer body that stops in the middle', { timeout: 10_000 }, async () => {
  const r = await stalling();
  const repo = new RegistryClient({ registry: r.host, idleTimeoutMs: 300 }).repository('app');
  const img = await repo.get('v1');
  const layer = JSON.parse(img.manifest.toString()).layers[0];
  const t0 = Date.now();
  await assert.rejects(new OciLayout(join(dir, 'idle')).write('v1', img), RegistryTimeoutError);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(existsSync(join(dir, 'idle', 'index.json')), false);
  assert.equal(existsSync(join(dir, 'idle', 'blobs', 'sha256', layer.digest.slice(7))), false);
});

test(
  'an AbortSignal, per call or on the client, stops a call that waits for an answer, with its reason',
  { timeout: 10_000 },
  async () => {
    const s = await silent();
    const c = new AbortController();
    const call = new RegistryClient({ registry: s.host }).repository('x/app').get('v1', { signal: c.signal });
    setTimeout(() => c.abort(), 100);
    const t0 = Date.now();
    await assert.rejects(call, { name: 'AbortError' });
    assert.ok(Date.now() - t0 < 1000);
    const whole = new AbortController();
    const client = new RegistryClient({ registry: s.host, signal: whole.signal });
    const tags = client.repository('x/app').tags();
    whole.abort(new Error('shutting down'));
    await assert.rejects(tags, /shutting down/);
    // An aborted signal fails the next call at once, before any connection.
    const before = s.connections();
    await assert.rejects(client.repository('x/app').head('v1'), /shutting down/);
    assert.equal(s.connections(), before);
  },
);

test(
  'aborting an in-flight pull to an OCI layout rejects promptly and leaves no blob, temp file or tag',
  { timeout: 10_000 },
  async () => {
    const r = await stalling();
    const c = new AbortController();
    const repo = new RegistryClient({ registry: r.host }).repository('app');
    const img = await repo.get('v1', { signal: c.signal });
    const out = join(dir, 'aborted');
    let started = false;
    const pull = new OciLayout(out).write('v1', img, {
      onProgress: (e) => {
        if (e.digest === r.layerDigest && e.status === 'progress') started = true;
      },
    });
    while (!started) await new Promise((res) => setTimeout(res, 20));
    const t0 = Date.now();
    c.abort();
    await assert.rejects(pull, { name: 'AbortError' });
    assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`);
    assert.equal(existsSync(join(out, 'index.json')), false);
    const left = existsSync(join(out, 'blobs', 'sha256')) ? readdirSync(join(out, 'blobs', 'sha256')) : [];
    assert.ok(!left.includes(r.layerDigest.slice(7)), 'no layer');
    assert.deepEqual(
      left.filter((f) => !/^[0-9a-f]{64}$/.test(f)),
      [],
      'no temporary files',
    );
  },
);

test('a retry wait (Retry-After: 30) is cut short by the signal', { timeout: 10_000 }, async () => {
  const r = await stalling();
  const c = new AbortController();
  const call = new RegistryClient({ registry: r.host }).repository('busy/app').get('v1', { signal: c.signal });
  setTimeout(() => c.abort(), 200);
  const t0 = Date.now();
  await assert.rejects(call, { name: 'AbortError' });
  assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
});

test(
  'a request body that fails or closes before its end fails the request instead of leaving it waiting',
  { timeout: 10_000 },
  async () => {
    // The server waits for the whole body, as a registry does for a PUT.
    const srv = createHttpServer((req, res) => req.resume().on('end', () => res.writeHead(201).end()));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push({ close: () => (srv.closeAllConnections(), srv.close()) });
    const url = new URL(`http://127.0.0.1:${(srv.address() as { port: number }).port}/v2/x/blobs/uploads/1`);
    const headers = { 'content-length': '10' };
    const failed = new PassThrough();
    failed.destroy(new Error('the source went away'));
    await assert.rejects(sendOnce(url, { method: 'PUT', headers, body: failed }, dispatcherFor(false)), /went away/);
    const closed = new PassThrough();
    closed.write('abc');
    const put = sendOnce(url, { method: 'PUT', headers, body: closed }, dispatcherFor(false));
    setTimeout(() => closed.destroy(), 50);
    await assert.rejects(put, /closed early|socket hang up|aborted/);
  },
);
