import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { startKura } from './kura-process.js';

/** Bytes in the data directory's upload files. */
function uploadBytes(dataDir: string): number {
  const dir = join(dataDir, 'uploads');
  return existsSync(dir) ? readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0) : 0;
}

/** Polls `cond` every 10 ms; fails naming `what` after 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting until ${what}`);
}

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
  // The first chunk is on disk: the request is in flight (polled, not a fixed sleep).
  await until(() => uploadBytes(server.dataDir) >= 64 * 1024, 'the first chunk reached the upload file');
  const exited = new Promise<number | null>((r) => server.proc.once('exit', (code) => r(code)));
  server.proc.kill('SIGTERM');
  await until(() => /SIGTERM: draining/.test(server.logs().stderr), 'the server said it is draining');
  // Given time in which a server that did not wait for the request would have exited.
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
