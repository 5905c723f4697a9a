import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { startKura } from './kura-process.js';

test('SIGTERM lets an in-flight upload finish, then the process exits 0', async () => {
  const server = await startKura({ args: ['--shutdown-timeout', '10s'] });
  const start = await fetch(`${server.url}/v2/drain/test/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const loc = start.headers.get('location')!;
  const body = new PassThrough();
  const answered = new Promise<number>((resolve, reject) => {
    const req = request(server.url + loc, { method: 'PATCH', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    body.pipe(req);
  });
  body.write(randomBytes(64 * 1024));
  await new Promise((r) => setTimeout(r, 200));
  const exited = new Promise<number | null>((r) => server.proc.once('exit', (code) => r(code)));
  server.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  // Still draining: the request is alive and may finish.
  assert.equal(server.proc.exitCode, null);
  body.end(randomBytes(64 * 1024));
  assert.equal(await answered, 202);
  assert.equal(await exited, 0);
});

test('kura serve refuses a bad configuration with one line and exit code 1', async () => {
  await assert.rejects(startKura({ args: ['--limits-manifest-max-bytes', 'lots'] }), /invalid size "lots"/);
});
