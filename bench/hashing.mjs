// Where the upload digest comes from: measured for the architecture's "resumable hasher or recompute
// at close; measure both". Usage: node bench/hashing.mjs [MiB]   (default 1024)
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSHA256 } from 'hash-wasm';

const mib = Number(process.argv[2] ?? 1024);
const CHUNK = 1 << 20;
const chunk = randomFillSync(Buffer.alloc(CHUNK));
const rate = (ms) => `${((mib * 1000) / ms).toFixed(0)} MiB/s`;

function time(fn) {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

// (a) node:crypto while streaming (what Kura does): state lives in the process.
const native = time(() => {
  const h = createHash('sha256');
  for (let i = 0; i < mib; i++) h.update(chunk);
  h.digest('hex');
});

// (b) hash-wasm with its state saved after every 1 MiB chunk, as a resumable hasher persisted per PATCH would.
const wasm = await createSHA256();
let stateBytes = 0;
const resumable = time(() => {
  wasm.init();
  for (let i = 0; i < mib; i++) {
    wasm.update(chunk);
    stateBytes = wasm.save().length;
  }
  wasm.digest('hex');
});

// (c) recompute at close: read the stored upload back (page cache) and hash it with node:crypto.
const dir = mkdtempSync(join(tmpdir(), 'kura-hash-'));
const file = join(dir, 'upload');
writeFileSync(file, Buffer.alloc(0));
const fd0 = openSync(file, 'a');
for (let i = 0; i < mib; i++) writeFileSync(fd0, chunk);
closeSync(fd0);
const recompute = time(() => {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(4 * CHUNK);
  const h = createHash('sha256');
  let n;
  while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) h.update(n === buf.length ? buf : buf.subarray(0, n));
  closeSync(fd);
  h.digest('hex');
});
rmSync(dir, { recursive: true, force: true });

console.log(`| method (${mib} MiB) | time | rate |`);
console.log('|---|---:|---:|');
console.log(`| node:crypto inline (Kura's path) | ${native.toFixed(0)} ms | ${rate(native)} |`);
console.log(
  `| hash-wasm inline, state saved per 1 MiB (${stateBytes} bytes) | ${resumable.toFixed(0)} ms | ${rate(resumable)} |`,
);
console.log(
  `| recompute at close: read back from page cache + node:crypto | ${recompute.toFixed(0)} ms | ${rate(recompute)} |`,
);
