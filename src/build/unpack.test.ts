/** The concurrent unpacker against GNU `tar -x` of the same layer, and its ordering: whiteouts, links, symlinks. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  createReadStream,
  existsSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import tar from 'tar-stream';
import { applyLayer } from './unpack.js';

const work = mkdtempSync(join(tmpdir(), 'kura-unpack-'));
after(() => rmSync(work, { recursive: true, force: true }));
const root = process.getuid?.() === 0;

/** Every path under `dir` (the root aside): type, mode, owner, size, mtime, link target, content, hard-link group. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, p));
      let what = `${(st.mode & 0o170000).toString(8)} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      what += ` ${Math.floor(st.mtimeMs / 1000)}`;
      if (st.isSymbolicLink()) what += ` -> ${readlinkSync(join(dir, p))}`;
      else if (st.isFile()) {
        what += ` ${st.size} ${createHash('sha256')
          .update(readFileSync(join(dir, p)))
          .digest('hex')
          .slice(0, 16)}`;
        if (st.nlink > 1) what += ` linked with ${inodes.get(st.ino) ?? (inodes.set(st.ino, p), p)}`;
      }
      out[p] = what;
      if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

const skip = !root && 'needs root (owners)';

test('a layer of many files and deep directories unpacks as GNU tar -x unpacks it', { skip }, async () => {
  const src = join(work, 'src');
  const t = (n: number) => new Date((1_600_000_000 + n) * 1000);
  for (let i = 0; i < 3000; i++) {
    const d = join(src, `pkg${i % 60}`, `lib${i % 7}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.js`), `module.exports = ${i};\n`.repeat(i % 13));
    chmodSync(join(d, `f${i}.js`), [0o644, 0o600, 0o755, 0o4755, 0o2711][i % 5]!);
    lchownSync(join(d, `f${i}.js`), i % 3 === 0 ? 1000 : 0, i % 4 === 0 ? 1000 : 0);
    lutimesSync(join(d, `f${i}.js`), t(i), t(i));
  }
  let deep = join(src, 'deep');
  for (let i = 0; i < 25; i++) {
    deep = join(deep, `d${i}`);
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'leaf'), `${i}\n`);
  }
  writeFileSync(join(src, 'big.bin'), Buffer.alloc(3 << 20, 7)); // over the in-memory limit: streamed
  for (let i = 0; i < 50; i++) linkSync(join(src, 'pkg1/lib1/f1.js'), join(src, `deep/hard${i}`));
  symlinkSync('../pkg2/lib2', join(src, 'deep/rel-link'));
  symlinkSync('/etc/passwd', join(src, 'abs-link'));
  lchownSync(join(src, 'abs-link'), 123, 456);
  mkdirSync(join(src, 'locked/inside'), { recursive: true });
  writeFileSync(join(src, 'locked/inside/f'), 'f\n');
  chmodSync(join(src, 'locked/inside'), 0o500);
  chmodSync(join(src, 'locked'), 0o555);
  lchownSync(join(src, 'locked'), 7, 8);
  for (const d of ['pkg3/lib3', 'pkg3', 'deep/d0', 'locked/inside', 'locked']) lutimesSync(join(src, d), t(1), t(2));
  const layer = join(work, 'layer.tar');
  assert.equal(spawnSync('tar', ['--numeric-owner', '-C', src, '-cf', layer, '.']).status, 0);
  const ref = join(work, 'ref');
  mkdirSync(ref);
  const r = spawnSync('tar', ['--numeric-owner', '--same-owner', '-xpf', layer, '-C', ref], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ours = join(work, 'ours');
  mkdirSync(ours);
  await applyLayer(ours, createReadStream(layer));
  const want = tree(ref);
  assert.ok(Object.keys(want).length > 3100);
  assert.deepEqual(tree(ours), want);
});

type Entry = Partial<tar.Header> & { name: string; body?: string };

function layerOf(entries: Entry[]): Readable {
  const pack = tar.pack();
  (async () => {
    for (const { body, ...h } of entries)
      await new Promise<void>((res, rej) => {
        pack.entry({ mtime: new Date(0), ...h }, body ?? '', (e) => (e ? rej(e) : res()));
      });
    pack.finalize();
  })().catch((e: Error) => pack.destroy(e));
  return pack as unknown as Readable;
}

test('whiteouts, an opaque directory, a directory replaced by a file and a file by a directory, in order', async () => {
  const dir = join(work, 'order');
  mkdirSync(dir);
  const many = (d: string) => Array.from({ length: 40 }, (_, i): Entry => ({ name: `${d}/f${i}`, body: `${i}\n` }));
  await applyLayer(
    dir,
    layerOf([
      { name: 'a', type: 'directory' },
      ...many('a'),
      { name: 'keep', type: 'directory' },
      ...many('keep'),
      { name: 'opq', type: 'directory' },
      ...many('opq'),
      { name: 'x', body: 'x\n' },
    ]),
  );
  await applyLayer(
    dir,
    layerOf([
      { name: 'a/.wh.f3' },
      { name: 'keep/.wh.keep', body: '' },
      { name: 'opq/.wh..wh..opq' },
      { name: 'opq/new', body: 'new\n' },
      { name: 'b', type: 'directory' },
      ...many('b'),
      { name: 'b', body: 'b is a file now\n' }, // replaces the directory just written (and its 40 files)
      { name: 'x', type: 'directory' },
      ...many('x'),
      { name: 'f', body: 'target\n', mode: 0o640 },
      { name: 'g', type: 'link', linkname: 'f' },
      { name: '.wh.keep' },
    ]),
  );
  assert.deepEqual(readdirSync(dir).sort(), ['a', 'b', 'f', 'g', 'opq', 'x']);
  assert.equal(readdirSync(join(dir, 'a')).length, 39);
  assert.ok(!existsSync(join(dir, 'a/f3')));
  assert.deepEqual(readdirSync(join(dir, 'opq')), ['new']);
  assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'b is a file now\n');
  assert.equal(readdirSync(join(dir, 'x')).length, 40);
  assert.equal(lstatSync(join(dir, 'g')).ino, lstatSync(join(dir, 'f')).ino);
  assert.equal(lstatSync(join(dir, 'g')).mode & 0o777, 0o640);
});

test('nothing is written through a symlink that replaced a directory in the same layer', async () => {
  const dir = join(work, 'escape');
  const outside = join(work, 'outside');
  mkdirSync(join(outside, 'sub'), { recursive: true });
  mkdirSync(dir);
  const layer = layerOf([
    { name: 'a', type: 'directory' },
    { name: 'a/sub', type: 'directory' },
    ...Array.from({ length: 40 }, (_, i): Entry => ({ name: `a/sub/f${i}`, body: `${i}\n` })),
    { name: 'a', type: 'symlink', linkname: outside },
    { name: 'a/sub/evil', body: 'escaped\n' },
  ]);
  await assert.rejects(applyLayer(dir, layer), /\/a is not a directory in the image/);
  assert.deepEqual(readdirSync(join(outside, 'sub')), []);
});

test('an opaque marker or a whiteout below a symlink removes nothing outside the tree', async () => {
  const dir = join(work, 'opaque-escape');
  const outside = join(work, 'opaque-outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'precious'), 'keep me\n');
  mkdirSync(dir);
  await applyLayer(dir, layerOf([{ name: 'evil', type: 'symlink', linkname: outside }]));
  await assert.rejects(
    applyLayer(dir, layerOf([{ name: 'evil/.wh..wh..opq' }])),
    /\/evil is not a directory in the image/,
  );
  await assert.rejects(applyLayer(dir, layerOf([{ name: 'evil/.wh.precious' }])), /\/evil is not a directory/);
  assert.deepEqual(readdirSync(outside), ['precious']);
});
