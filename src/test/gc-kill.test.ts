import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { KURA_MAIN, startKura } from './kura-process.js';

const execFileP = promisify(execFile);

function countBlobs(dataDir: string): number {
  const dir = join(dataDir, 'blobs', 'sha256');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((n, d) => n + readdirSync(join(dir, d)).length, 0);
}

async function fsck(dataDir: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [KURA_MAIN, 'fsck', '--data', dataDir, '--verify']);
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

test('SIGKILL in the middle of a GC sweep, then kura fsck: clean, and the next GC finishes the sweep', async () => {
  // 1. 300 unreferenced blobs, with no GC running.
  let server = await startKura({ args: ['--gc-interval', '0', '--gc-grace', '0s', '--gc-allow-short-grace', 'true'] });
  const dataDir = server.dataDir;
  for (let i = 0; i < 300; i++) {
    const b = randomBytes(2000);
    const d = 'sha256:' + createHash('sha256').update(b).digest('hex');
    const r = await fetch(`${server.url}/v2/kill/gc/blobs/uploads/?digest=${d}`, { method: 'POST', body: b });
    assert.equal(r.status, 201);
  }
  await server.stop();
  const before = countBlobs(dataDir);
  assert.equal(before, 300);

  // 2. GC with no grace, killed while it sweeps.
  server = await startKura({
    dataDir,
    args: ['--gc-interval', '20ms', '--gc-grace', '0s', '--gc-allow-short-grace', 'true'],
  });
  let seen = before;
  for (let i = 0; i < 2000 && seen === before; i++) {
    await new Promise((r) => setTimeout(r, 2));
    seen = countBlobs(dataDir);
  }
  await server.kill();
  const after = countBlobs(dataDir);
  assert.ok(after < before && after > 0, `kill should land mid-sweep (blobs: ${before} → ${after})`);

  // 3. fsck: no row without bytes, no bytes without a row, nothing corrupt; only sweeps to finish.
  const check = await fsck(dataDir);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /clean/);

  // 4. The next collection finishes the interrupted sweep.
  server = await startKura({
    dataDir,
    args: ['--gc-interval', '20ms', '--gc-grace', '0s', '--gc-allow-short-grace', 'true'],
  });
  for (let i = 0; i < 500 && countBlobs(dataDir) > 0; i++) await new Promise((r) => setTimeout(r, 10));
  await server.stop();
  assert.equal(countBlobs(dataDir), 0);
  const final = await fsck(dataDir);
  assert.equal(final.code, 0, final.out);
  assert.match(final.out, /0 blobs checked and hashed, clean; 0 awaiting/);
});
