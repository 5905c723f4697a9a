/** The proxy's V8 heap sizing: after it, V8 lets the old generation grow to 4 times its live size. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const heapModule = fileURLToPath(new URL('./heap.js', import.meta.url));

/** The growth factors V8 reports for a full collection in a fresh process, with or without the proxy's sizing. */
function limitFactors(withSizing: boolean): number[] {
  // --optimize-for-size makes V8 grow the heap as little as it can (factor ~1.1-1.3), so the sizing shows plainly.
  const script =
    `const { roomForStreamedBlobs } = await import(${JSON.stringify(heapModule)});` +
    `if (process.argv[1] === 'on') roomForStreamedBlobs(); globalThis.gc();`;
  const run = spawnSync(
    process.execPath,
    [
      '--optimize-for-size',
      '--trace-gc-verbose',
      '--expose-gc',
      '--input-type=module',
      '-e',
      script,
      withSizing ? 'on' : 'off',
    ],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
  );
  assert.equal(run.status, 0, run.stderr);
  const out = `${run.stdout}${run.stderr}`;
  return [...out.matchAll(/\[HeapController\] Limit: .*\((\d+\.\d)\)/g)].map((m) => Number(m[1]));
}

test('roomForStreamedBlobs: the old generation may grow 4x between mark-compacts (V8 alone grows it less here)', () => {
  const without = limitFactors(false);
  const withSizing = limitFactors(true);
  assert.ok(without.length > 0 && withSizing.length > 0, 'V8 printed no heap limits (--trace-gc-verbose)');
  assert.ok(
    without.every((f) => f < 2),
    `without the sizing V8 should grow this heap little: ${without.join(', ')}`,
  );
  assert.deepEqual(new Set(withSizing), new Set([4]));
});
