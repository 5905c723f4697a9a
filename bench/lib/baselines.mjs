// This machine's own limits, so a run says how close Kura is to them and not only to Distribution:
// a trivial Node HTTP server under the same wrk load as the manifest GET, and the disk's fsync'd
// write rate (small files written as a registry commits them, and one large sequential file).
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runWrk } from './wrk.mjs';

const TRIVIAL = `
const http = require('node:http');
const body = Buffer.from('{}');
const s = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }); res.end(body); });
s.listen(0, '127.0.0.1', () => process.stdout.write('PORT ' + s.address().port + '\\n'));
`;

/** Requests per second of a trivial Node HTTP server (its own process), wrk 2 threads × 32 connections. */
export async function trivialServerRps(seconds) {
  const p = spawn(process.execPath, ['-e', TRIVIAL], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      p.stdout.on('data', (d) => {
        out += d;
        const m = /PORT (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      p.on('exit', (c) => reject(new Error(`trivial server exited ${c}`)));
    });
    const w = await runWrk(`http://127.0.0.1:${port}/v2/`, { seconds });
    return w.rps;
  } finally {
    p.kill('SIGTERM');
  }
}

/**
 * fsync'd writes on the disk holding `dir` (default: the temp folder, where the benchmark's data
 * directories go): small files committed as a registry does (write, fsync, rename, fsync of the
 * folder) per second, and a large file's sequential MiB/s with one fsync at the end.
 */
export function fsyncRates(dir = os.tmpdir(), { files = 200, fileBytes = 4096, bigMiB = 128 } = {}) {
  const root = mkdtempSync(path.join(dir, 'kura-bench-fsync-'));
  try {
    const small = randomFillSync(Buffer.alloc(fileBytes));
    const dirFd = openSync(root, 'r');
    let t0 = performance.now();
    for (let i = 0; i < files; i++) {
      const tmp = path.join(root, `f${i}.tmp`);
      const fd = openSync(tmp, 'wx');
      writeSync(fd, small);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, path.join(root, `f${i}`));
      fsyncSync(dirFd);
    }
    const commitsPerSecond = files / ((performance.now() - t0) / 1000);
    closeSync(dirFd);
    const chunk = randomFillSync(Buffer.alloc(8 * 2 ** 20));
    const fd = openSync(path.join(root, 'big'), 'wx');
    t0 = performance.now();
    for (let i = 0; i < bigMiB / 8; i++) writeSync(fd, chunk);
    fsyncSync(fd);
    const sequentialMiBps = bigMiB / ((performance.now() - t0) / 1000);
    closeSync(fd);
    return { commitsPerSecond, sequentialMiBps };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
