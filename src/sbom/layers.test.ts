import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { pack } from 'tar-stream';
import { compress, decompress } from '../oci/compression.js';
import { cleanPath, readImageFiles } from './layers.js';

type Entry = { name: string; data?: string; type?: 'file' | 'link' | 'directory' | 'symlink'; linkname?: string };

async function tar(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries)
    p.entry(
      {
        name: e.name,
        type: e.type ?? 'file',
        ...(e.linkname ? { linkname: e.linkname } : {}),
        size: e.data?.length ?? 0,
      },
      e.data ?? '',
    );
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const opener = (b: Buffer) => async () => (await decompress(Readable.from([b]))).stream;

test('whiteouts, opaque directories, replaced files and hard links, each layer read once', async () => {
  const l0 = await tar([
    { name: './a/keep.json', data: 'k0' },
    { name: 'a/gone.json', data: 'g' },
    { name: 'opq/x.json', data: 'x' },
    { name: 'b/c/deep.json', data: 'd' },
    { name: 'db', data: 'v0' },
    { name: 'other.txt', data: 'not wanted' },
  ]);
  const l1 = await tar([
    { name: 'a/.wh.gone.json' },
    { name: 'opq/.wh..wh..opq' },
    { name: 'opq/new.json', data: 'n' },
    { name: 'b/.wh.c' },
    { name: 'a/keep.json', data: 'k1' },
    { name: 'link.json', type: 'link', linkname: 'a/keep.json' },
    { name: '../escape.json', data: 'e' },
  ]);
  const l2 = await tar([{ name: '.wh.db' }]);
  let opened = 0;
  const layers = [l0, gzipSync(l1), l2].map((b) => async () => {
    opened++;
    return opener(b)();
  });
  const got = await readImageFiles(layers, { want: (p) => p.endsWith('.json'), history: (p) => p === 'db' });
  assert.equal(opened, 3);
  assert.deepEqual(Object.fromEntries([...got.files].map(([k, v]) => [k, `${v.layer}:${v.data}`])), {
    'a/keep.json': '1:k1',
    'opq/new.json': '1:n',
    'link.json': '1:k1',
  });
  assert.deepEqual(
    got.history.get('db')!.map((v) => [v.layer, v.data?.toString()]),
    [
      [0, 'v0'],
      [2, undefined],
    ],
  );
  assert.deepEqual(got.warnings, []);
  assert.equal(cleanPath('./x/../y'), undefined);
  assert.equal(cleanPath('/usr//lib/./os-release'), 'usr/lib/os-release');
});

test('a truncated layer is a warning naming it; files read before the damage are kept', async () => {
  const good = await tar([
    { name: 'first.json', data: 'ok' },
    { name: 'second.json', data: 'x'.repeat(5000) },
    { name: 'third.json', data: 'y' },
  ]);
  const gz = gzipSync(good);
  const cut = gz.subarray(0, gz.length - 20);
  const got = await readImageFiles([opener(cut)], { want: (p) => p.endsWith('.json') });
  assert.match(got.warnings[0] ?? '', /^layer 0 could not be read to its end/);
  assert.equal(got.files.get('first.json')?.data.toString(), 'ok');
});

test('a zstd layer is read like a gzip one', async () => {
  const plain = await tar([{ name: 'usr/lib/os-release', data: 'ID=debian\n' }]);
  const chunks: Buffer[] = [];
  for await (const c of compress(Readable.from([plain]), 'zstd')) chunks.push(c as Buffer);
  const z = Buffer.concat(chunks);
  assert.deepEqual([...z.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
  const got = await readImageFiles([opener(z)], { want: (p) => p.endsWith('os-release') });
  assert.equal(got.files.get('usr/lib/os-release')?.data.toString(), 'ID=debian\n');
});
