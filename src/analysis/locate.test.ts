import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { randomImage, type TarFile } from '../oci/random.js';
import { catFile, contentSource, resolvePath } from './files.js';
import { stackLayers } from './fs-tree.js';
import { indexImage, LayerIndexLoader } from './image-index.js';
import { locateTopDown } from './locate.js';
import { resolveImage } from './resolve.js';

const b = (s: string) => Buffer.from(s);
const dir = (name: string): TarFile => ({ name, type: 'directory' });
const LAYERS: TarFile[][] = [
  [
    dir('etc/'),
    { name: 'etc/passwd', data: b('root') },
    dir('a/'),
    { name: 'a/x', data: b('ax') },
    { name: 'lnk', type: 'symlink', linkname: 'a' },
    dir('d/'),
    { name: 'd/y', data: b('dy') },
    dir('o/'),
    { name: 'o/old', data: b('old') },
    { name: 't', data: b('target') },
    { name: 'ht', type: 'link', linkname: 't' },
    { name: 'up', type: 'symlink', linkname: '../../../etc' },
    dir('p/'),
    { name: 'p/q', data: b('pq') },
    dir('pin/'),
    { name: 'pin/z', data: b('z') },
    { name: 'loop', type: 'symlink', linkname: 'loop' },
  ],
  [
    { name: '.wh.d' },
    { name: 'o/.wh..wh..opq' },
    { name: 'o/new', data: b('new') },
    { name: 'p', data: b('file now') },
    { name: 'pin', type: 'symlink', linkname: '/etc' },
    { name: 'abs', type: 'symlink', linkname: '/a/x' },
  ],
  [dir('pin/'), { name: 'pin/w', data: b('w') }, { name: 'top', data: b('top') }],
];
const PATHS = [
  'etc/passwd',
  'top',
  'lnk/x',
  '/lnk/../etc/passwd',
  'd/y',
  'o/old',
  'o/new',
  'up/passwd',
  'ht',
  'p/q',
  'p',
  'pin/z',
  'pin/w',
  'abs',
  'loop',
  'nope',
  'etc',
  '/',
];

test('top-down lookup agrees with the stacked tree on every case, or hands over to it', async () => {
  const r = await resolveImage(await randomImage({ files: LAYERS }));
  const tree = stackLayers((await indexImage(r)).layers);
  for (const p of PATHS) {
    const hit = await locateTopDown(new LayerIndexLoader(r), p);
    let want: { layer: number; path: string } | undefined;
    try {
      const e = resolvePath(tree, p, true);
      if (e.type === 'file') want = contentSource(e);
    } catch {
      want = undefined;
    }
    if (hit) assert.deepEqual({ layer: hit.layer, path: hit.entry.path }, want, p);
    else assert.ok(!want || p === 'ht', `${p}: top-down gave up on a plain file`);
  }
});

test('top-down lookup reads only the layers down to the one holding the file', async () => {
  const r = await resolveImage(await randomImage({ files: LAYERS }));
  const count = async (p: string) => {
    const l = new LayerIndexLoader(r);
    const hit = await locateTopDown(l, p);
    return [hit?.layer, l.read];
  };
  assert.deepEqual(await count('top'), [2, 1]);
  assert.deepEqual(await count('o/new'), [1, 2]);
  assert.deepEqual(await count('etc/passwd'), [0, 3]);
  assert.deepEqual(await count('abs'), [0, 3], 'a symlink restarts at its target');
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const res = await catFile(r, '/top', out);
  assert.equal(Buffer.concat(chunks).toString(), 'top');
  assert.deepEqual([res.layer, res.layersIndexed], [2, 1]);
  const viaLink = new PassThrough();
  const got: Buffer[] = [];
  viaLink.on('data', (c: Buffer) => got.push(c));
  await catFile(r, 'ht', viaLink);
  assert.equal(Buffer.concat(got).toString(), 'target', 'a hard link is read through the stacked tree');
  await assert.rejects(catFile(r, 'd/y', new PassThrough()), /\/d: no such file or directory in the image/);
  await assert.rejects(catFile(r, 'loop', new PassThrough()), /too many levels of symbolic links/);
});
