import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TransferEvent } from '../../oci/artifact.js';
import { progress } from './progress.js';

function sink(): NodeJS.WriteStream & { lines: string[] } {
  const lines: string[] = [];
  return {
    isTTY: false,
    lines,
    write: (s: string) => (lines.push(...s.split('\n').filter(Boolean)), true),
  } as unknown as NodeJS.WriteStream & { lines: string[] };
}

const D = 'sha256:' + 'ab'.repeat(32);
const E = 'sha256:' + 'cd'.repeat(32);
const ev = (digest: string, status: TransferEvent['status'], complete: number, total = 210 << 20): TransferEvent => ({
  digest: digest as TransferEvent['digest'],
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  status,
  complete,
  total,
});

test('plain progress (CI): a long upload prints a line every 10 %, or every 10 s when slower', () => {
  const out = sink();
  let clock = 0;
  const p = progress({}, out, () => clock);
  p.onProgress(ev(D, 'start', 0));
  for (let mb = 1; mb <= 210; mb++) p.onProgress(ev(D, 'progress', mb << 20));
  p.onProgress(ev(D, 'done', 210 << 20));
  assert.deepEqual(
    out.lines.map((l) => /\((\d+)%\)/.exec(l)?.[1] ?? l),
    ['10', '20', '30', '40', '50', '60', '70', '80', '90', '100', 'abababababab: Done 220MB'],
  );
  // Slow: 1 MB every 4 s — under 10 % in 10 s, so a line per 10 s.
  const slow = sink();
  clock = 0;
  const q = progress({}, slow, () => clock);
  q.onProgress(ev(E, 'start', 0));
  for (let mb = 1; mb <= 10; mb++) {
    clock += 4000;
    q.onProgress(ev(E, 'progress', mb << 20));
  }
  assert.deepEqual(
    slow.lines.map((l) => /Copying (\S+)/.exec(l)?.[1]),
    ['3.15MB/220MB', '6.29MB/220MB', '9.44MB/220MB'],
  );
});

test('plain progress: a blob shared by several images is reported once', () => {
  const out = sink();
  const p = progress({}, out);
  for (let i = 0; i < 4; i++) {
    p.onProgress(ev(D, i === 0 ? 'done' : 'skipped', 100, 100));
    p.onProgress(ev(E, 'mounted', 100, 100));
  }
  assert.deepEqual(out.lines, ['abababababab: Done 100B', 'cdcdcdcdcdcd: Mounted 100B']);
});
