// /metrics: a real push and pull through a running server, then the Prometheus exposition text parsed and checked.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/client.js';
import { createServer } from './create.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-metrics-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (sample lines; # HELP and # TYPE lines skipped), refusing a malformed line. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples called `name` whose labels include `match`. */
function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

test('a push, a pull and a GC show up in /metrics by route template and status, bytes, stores and GC', async () => {
  const gc = { interval: 0, grace: '50ms', allowShortGrace: true };
  const server = await createServer({ config: { metrics: { enabled: true }, gc } });
  try {
    assert.equal(server.metricsUrl, `${server.url}/metrics`);
    const client = new RegistryClient({ registry: new URL(server.url).host });
    const repo = client.repository('team/secret-name');
    const img = await randomImage({ seed: 70, layers: 2 });
    await repo.write('v1', img);
    const pulled = await repo.get('v1');
    assert.deepEqual(pulled.manifest, img.manifest);
    // An upload started and left open, and an orphan blob for the collector.
    const open = await fetch(`${server.url}/v2/team/other/blobs/uploads/`, { method: 'POST' });
    assert.equal(open.status, 202);
    const orphan = Buffer.from('orphan bytes for the collector');
    const digest = `sha256:${createHash('sha256').update(orphan).digest('hex')}`;
    const posted = await fetch(`${server.url}/v2/team/other/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: orphan,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(posted.status, 201);
    await new Promise((r) => setTimeout(r, 120));
    const freed = await server.registry.collectGarbage();
    assert.ok(freed.bytes >= orphan.length, 'the collector freed the orphan');

    const res = await server.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(res.body);
    const manifestPut = { method: 'PUT', route: '/v2/{name}/manifests/{reference}', status: '201' };
    assert.equal(total(samples, 'kura_http_requests_total', manifestPut), 1);
    assert.equal(total(samples, 'kura_http_request_duration_seconds_count', manifestPut), 1);
    assert.ok(total(samples, 'kura_http_request_duration_seconds_sum', manifestPut) > 0);
    const manifestGet = { method: 'GET', route: '/v2/{name}/manifests/{reference}', status: '200' };
    assert.equal(total(samples, 'kura_http_requests_total', manifestGet), 1);
    const uploads = (status: string) =>
      total(samples, 'kura_http_requests_total', { route: '/v2/{name}/blobs/uploads/', status });
    assert.ok(uploads('202') >= 4, 'a session per pushed blob, and the one left open');
    assert.equal(uploads('201'), 1, 'the monolithic upload');
    assert.ok(!res.body.includes('secret-name'), 'no repository name in a label');
    const m = JSON.parse(img.manifest.toString()) as { config: { size: number }; layers: { size: number }[] };
    const pushedBytes = m.layers.reduce((a, l) => a + l.size, m.config.size);
    assert.ok(total(samples, 'kura_http_body_bytes_total', { direction: 'in' }) >= pushedBytes + orphan.length);
    assert.ok(total(samples, 'kura_http_body_bytes_total', { direction: 'out' }) >= img.manifest.length);
    assert.equal(total(samples, 'kura_upload_sessions_open'), 1, 'the upload left open');
    const storageOps = (operation: string) =>
      total(samples, 'kura_storage_operation_duration_seconds_count', { driver: 'memory', operation, outcome: 'ok' });
    assert.ok(storageOps('commitUpload') >= 3, 'two layers, a config and the orphan committed');
    assert.equal(storageOps('put'), 1, 'the manifest stored');
    const metaOps = (role: string, operation: string) =>
      total(samples, 'kura_metadata_operation_duration_seconds_count', { role, operation, outcome: 'ok' });
    assert.equal(metaOps('manifests', 'put'), 1);
    assert.ok(metaOps('uploads', 'create') >= 4);
    assert.equal(total(samples, 'kura_gc_runs_total', { outcome: 'ok' }), 1);
    assert.equal(total(samples, 'kura_gc_freed_bytes_total'), freed.bytes);
    assert.equal(total(samples, 'kura_gc_freed_blobs_total'), freed.blobs.length);
    assert.ok(total(samples, 'process_resident_memory_bytes') > 0, 'process metrics');
    // A scrape is a request too, counted on the next one.
    const again = parseExposition((await server.app.inject({ method: 'GET', url: '/metrics' })).body);
    assert.equal(total(again, 'kura_http_requests_total', { route: '/metrics', status: '200' }), 1);
  } finally {
    await server.close();
  }
});

test('/metrics on an open registry answers loopback callers only, and is absent unless enabled', async () => {
  const server = await createServer({ config: { metrics: { enabled: true } } });
  try {
    const far = await server.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.7' });
    assert.equal(far.statusCode, 403);
    assert.equal(JSON.parse(far.body).errors[0].code, 'DENIED');
  } finally {
    await server.close();
  }
  const plain = await createServer();
  try {
    assert.equal(plain.metricsUrl, undefined);
    assert.equal((await plain.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
  } finally {
    await plain.close();
  }
});

test('with authentication on, /metrics answers global admins only', async () => {
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `root:${bcrypt.hashSync('root-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`);
  const server = await createServer({
    config: {
      metrics: { enabled: true },
      auth: { htpasswd, admins: ['root'], rules: [{ repositories: ['**'], users: ['bob'], actions: ['pull'] }] },
    },
  });
  const basic = (u: string) => `Basic ${Buffer.from(`${u}:${u}-pw`).toString('base64')}`;
  try {
    assert.equal((await server.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    const bob = await server.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: basic('bob') } });
    assert.equal(bob.statusCode, 403);
    const root = await server.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: basic('root') } });
    assert.equal(root.statusCode, 200);
    assert.match(root.body, /# TYPE kura_http_requests_total counter/);
  } finally {
    await server.close();
  }
});

test('metrics.listen serves /metrics on its own address, and the main listener has none', async () => {
  const server = await createServer({ config: { metrics: { enabled: true, listen: '127.0.0.1:0' } } });
  try {
    assert.match(server.metricsUrl!, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.notEqual(new URL(server.metricsUrl!).port, String(server.port));
    await fetch(`${server.url}/v2/`);
    const res = await fetch(server.metricsUrl!);
    assert.equal(res.status, 200);
    const samples = parseExposition(await res.text());
    assert.equal(total(samples, 'kura_http_requests_total', { route: '/v2/', status: '200' }), 1);
    assert.equal((await fetch(`${server.url}/metrics`)).status, 404);
    assert.equal((await fetch(server.metricsUrl!.replace('/metrics', '/other'))).status, 404);
  } finally {
    await server.close();
  }
  await assert.rejects(fetch(server.metricsUrl!), 'the metrics listener closes with the server');
});
