/** The content digest of COPY's sources (the cache key's input): what changes it and what does not. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { contentDigest, type CopySource } from './copy.js';

const work = mkdtempSync(join(tmpdir(), 'kura-copy-digest-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('the digest follows content, modes, links and names (read ahead, a large file streamed), not mtimes', async () => {
  const src: CopySource = { root: work, keepOwners: false, excluded: (p) => p.endsWith('.log') };
  for (let i = 0; i < 300; i++) {
    mkdirSync(join(work, `d/p${i % 30}`), { recursive: true });
    writeFileSync(join(work, `d/p${i % 30}/f${i}`), `${i}\n`);
  }
  writeFileSync(join(work, 'd/big'), Buffer.alloc(3 << 20, 1));
  symlinkSync('p1/f1', join(work, 'd/link'));
  const digest = () => contentDigest([src], ['d']);
  const first = await digest();
  assert.equal(await digest(), first);
  utimesSync(join(work, 'd/p3/f3'), new Date(0), new Date(0));
  assert.equal(await digest(), first, 'an mtime is not content');
  writeFileSync(join(work, 'd/p3/x.log'), 'excluded\n');
  assert.equal(await digest(), first, 'an excluded file is not read');
  const changes: [string, () => void][] = [
    ['a small file', () => writeFileSync(join(work, 'd/p3/f3'), '3, changed\n')],
    ['the large file', () => writeFileSync(join(work, 'd/big'), Buffer.alloc(3 << 20, 2))],
    ['a mode', () => chmodSync(join(work, 'd/p4/f4'), 0o600)],
    ['a link target', () => (unlinkSync(join(work, 'd/link')), symlinkSync('p2/f2', join(work, 'd/link')))],
    ['a new file', () => writeFileSync(join(work, 'd/p5/new'), '')],
  ];
  const seen = new Set([first]);
  for (const [what, change] of changes) {
    change();
    const d = await digest();
    assert.ok(!seen.has(d), `${what} changes the digest`);
    seen.add(d);
  }
});
