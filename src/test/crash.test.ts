import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { startKura, type KuraProcess } from './kura-process.js';
import { digestOf } from '../oci/digest.js';

interface Res {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

function http(
  base: string,
  method: string,
  path: string,
  body?: Buffer | Readable,
  headers: Record<string, string> = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

/** An endless body that keeps a request in flight until the server dies. */
function endless(chunk = randomBytes(256 * 1024)): Readable {
  return new Readable({
    read() {
      setTimeout(() => this.push(chunk), 2);
    },
  });
}

async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const d = digestOf(data);
  const r = await http(base, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, data, {
    'content-type': 'application/octet-stream',
  });
  assert.equal(r.status, 201);
  return d;
}

let server: KuraProcess | undefined;
after(async () => {
  await server?.stop();
});

test('SIGKILL in the middle of uploads leaves a consistent, resumable store', async () => {
  server = await startKura();
  const dataDir = server.dataDir;
  let base = server.url;

  // A complete image before the crash.
  const layer = randomBytes(300_000);
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const ld = await pushBlob(base, 'crash/app', layer);
  const cd = await pushBlob(base, 'crash/app', config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: layer.length }],
    }),
  );
  const mr = await http(base, 'PUT', '/v2/crash/app/manifests/v1', manifest, {
    'content-type': 'application/vnd.oci.image.manifest.v1+json',
  });
  assert.equal(mr.status, 201);

  // A chunked upload with two chunks recorded: must be resumable after the crash.
  const big = randomBytes(3 * 1024 * 1024);
  const start = await http(base, 'POST', '/v2/crash/chunked/blobs/uploads/');
  assert.equal(start.status, 202);
  const loc = start.headers.location!;
  for (const [a, b] of [
    [0, 1024 * 1024 - 1],
    [1024 * 1024, 2 * 1024 * 1024 - 1],
  ] as const) {
    const r = await http(base, 'PATCH', loc, big.subarray(a, b + 1), {
      'content-range': `${a}-${b}`,
      'content-type': 'application/octet-stream',
    });
    assert.equal(r.status, 202);
  }

  // Requests in flight at the moment of the kill: the third chunk of that upload, a streamed PATCH
  // of a fresh upload, and a monolithic POST that claims a digest it will never complete.
  const s2 = await http(base, 'POST', '/v2/crash/streamed/blobs/uploads/');
  const loc2 = s2.headers.location!;
  const inflight = [
    http(base, 'PATCH', loc, endless(), { 'content-range': `${2 * 1024 * 1024}-${3 * 1024 * 1024 - 1}` }),
    http(base, 'PATCH', loc2, endless(), { 'transfer-encoding': 'chunked' }),
    http(base, 'POST', `/v2/crash/mono/blobs/uploads/?digest=${digestOf(Buffer.from('never'))}`, endless(), {
      'transfer-encoding': 'chunked',
    }),
  ].map((p) =>
    p.then(
      () => 'answered',
      () => 'aborted',
    ),
  );
  // Let bytes reach the upload files before the kill.
  const uploadsDir = join(dataDir, 'uploads');
  let midWrite = false;
  let sizes: number[] = [];
  for (let i = 0; i < 400 && !midWrite; i++) {
    sizes = existsSync(uploadsDir) ? readdirSync(uploadsDir).map((f) => statSync(join(uploadsDir, f)).size) : [];
    midWrite =
      sizes.filter((s) => s > 2 * 1024 * 1024 + 512 * 1024 || (s > 512 * 1024 && s < 2 * 1024 * 1024)).length >= 2;
    if (!midWrite) await new Promise((r) => setTimeout(r, 25));
  }
  // The kill must land mid-write: otherwise the checks below would pass without testing a crash.
  assert.ok(midWrite, `the uploads never reached the sizes to kill at (upload files: ${sizes.join(', ')} bytes)`);
  await server.kill();
  assert.deepEqual((await Promise.all(inflight)).sort(), ['aborted', 'aborted', 'aborted']);

  // 1. No partial blob under a digest name: every file in blobs/ hashes to its name.
  const blobsDir = join(dataDir, 'blobs', 'sha256');
  const files: string[] = [];
  for (const d of readdirSync(blobsDir))
    for (const f of readdirSync(join(blobsDir, d))) files.push(join(blobsDir, d, f));
  for (const f of files)
    assert.equal(
      digestOf(readFileSync(f)),
      'sha256:' + f.slice(f.lastIndexOf('/') + 1),
      `${f} is not what its name says`,
    );

  // 2. No metadata row without bytes.
  const db = new Database(join(dataDir, 'kura.db'), { readonly: true });
  const rows = db.prepare('SELECT digest, size FROM blobs').all() as { digest: string; size: number }[];
  db.close();
  assert.ok(rows.length >= 3);
  for (const r of rows) {
    const p = join(blobsDir, r.digest.slice(7, 9), r.digest.slice(7));
    assert.ok(existsSync(p), `metadata row ${r.digest} has no bytes`);
    assert.equal(statSync(p).size, r.size);
  }

  // 3. Restart: the finished image pulls completely, byte-exact.
  server = await startKura({ dataDir });
  base = server.url;
  const got = await http(base, 'GET', '/v2/crash/app/manifests/v1', undefined, {
    accept: 'application/vnd.oci.image.manifest.v1+json',
  });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, manifest);
  assert.deepEqual((await http(base, 'GET', `/v2/crash/app/blobs/${ld}`)).body, layer);

  // 4. The chunked upload resumes at its last recorded chunk and completes.
  const status = await http(base, 'GET', loc);
  assert.equal(status.status, 204);
  assert.equal(status.headers.range, `0-${2 * 1024 * 1024 - 1}`);
  const fin = await http(base, 'PUT', `${loc}?digest=${digestOf(big)}`, big.subarray(2 * 1024 * 1024), {
    'content-range': `${2 * 1024 * 1024}-${3 * 1024 * 1024 - 1}`,
    'content-type': 'application/octet-stream',
  });
  assert.equal(fin.status, 201, fin.body.toString());
  assert.deepEqual((await http(base, 'GET', `/v2/crash/chunked/blobs/${digestOf(big)}`)).body, big);

  // 5. The streamed upload never finished a request: still at offset 0, and usable from there.
  const s2status = await http(base, 'GET', loc2);
  assert.equal(s2status.status, 204);
  assert.equal(s2status.headers.range, '0-0');
  const small = randomBytes(1000);
  const fin2 = await http(base, 'PUT', `${loc2}?digest=${digestOf(small)}`, small, {
    'content-type': 'application/octet-stream',
  });
  assert.equal(fin2.status, 201, fin2.body.toString());

  // 6. The monolithic upload left nothing visible.
  assert.equal((await http(base, 'HEAD', `/v2/crash/mono/blobs/${digestOf(Buffer.from('never'))}`)).status, 404);
});
