import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { extract, pack } from 'tar-stream';
import type { Descriptor } from '../oci/artifact.js';
import { makeTar, randomImage, type TarFile } from '../oci/random.js';
import { loadTestImages, makeTestImages, type TestImage } from '../test/kura-process.js';
import { OciLayout } from '../transports/layout/index.js';
import { UnsafePathError, flatten } from './flatten.js';
import { resolveImage } from './resolve.js';
import { tempDir } from '../test/tempdirs.js';

const run = promisify(execFile);
const b = (s: string) => Buffer.from(s);

interface Out {
  type: string;
  data?: string;
  linkname?: string;
  mode: number;
}

async function entriesOf(tar: Buffer): Promise<Map<string, Out>> {
  const out = new Map<string, Out>();
  const ex = extract();
  Readable.from([tar]).pipe(ex as never);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    const h = e.header;
    assert.ok(!out.has(h.name), `duplicate entry ${h.name}`);
    out.set(h.name, {
      type: h.type,
      mode: h.mode,
      ...(h.type === 'file' ? { data: Buffer.concat(chunks).toString() } : {}),
      ...(h.linkname ? { linkname: h.linkname } : {}),
    });
  }
  return out;
}

async function flat(layers: TarFile[][]): Promise<{ entries: Map<string, Out>; warnings: string[]; tar: Buffer }> {
  const tars = await Promise.all(layers.map(makeTar));
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const r = await flatten(
    tars.map((t) => async () => Readable.from([t])),
    sink,
  );
  const tar = Buffer.concat(chunks);
  return { entries: await entriesOf(tar), warnings: r.warnings, tar };
}

const names = (m: Map<string, Out>) => [...m.keys()].sort();

test('a file whiteout hides the lower file; a dangling whiteout does nothing', async () => {
  const { entries, warnings } = await flat([
    [
      { name: 'a/', type: 'directory' },
      { name: 'a/x', data: b('x') },
      { name: 'a/y', data: b('y') },
    ],
    [{ name: 'a/.wh.x' }, { name: '.wh.nothing' }, { name: 'nested/deeper/.wh.nope' }],
  ]);
  assert.deepEqual(names(entries), ['a/', 'a/y']);
  assert.deepEqual(warnings, []);
});

test('an opaque marker after the directory’s own entries still hides only the lower contents', async () => {
  const { entries } = await flat([
    [
      { name: 'd/', type: 'directory' },
      { name: 'd/old', data: b('old') },
      { name: 'd/sub/', type: 'directory' },
      { name: 'd/sub/deep', data: b('deep') },
      { name: 'keep', data: b('k') },
    ],
    [{ name: 'd/', type: 'directory', mode: 0o700 }, { name: 'd/new', data: b('new') }, { name: 'd/.wh..wh..opq' }],
  ]);
  assert.deepEqual(names(entries), ['d/', 'd/new', 'keep']);
  assert.equal(entries.get('d/')!.mode, 0o700, 'the higher directory entry wins');
});

test(
  'a directory deleted, then recreated higher up (or in the whiteout’s own layer), does not leak its old ' + 'files',
  async () => {
    const { entries } = await flat([
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/old', data: b('old') },
        { name: 'e/', type: 'directory' },
        { name: 'e/old', data: b('old') },
      ],
      [{ name: '.wh.d' }, { name: 'e/', type: 'directory' }, { name: 'e/new', data: b('new') }, { name: '.wh.e' }],
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/new', data: b('new') },
      ],
    ]);
    assert.deepEqual(names(entries), ['d/', 'd/new', 'e/', 'e/new']);
  },
);

test(
  'hard links: kept when the target survives, a copy of the old content when it was replaced or deleted, ' +
    'relinked to that copy',
  async () => {
    const { entries, warnings } = await flat([
      [
        { name: 'f', data: b('v1') },
        { name: 'h1', type: 'link', linkname: 'f' },
        { name: 'h2', type: 'link', linkname: 'f' },
        { name: 'g', data: b('gone') },
        { name: 'hg', type: 'link', linkname: './g' },
        { name: 'k', data: b('kept') },
        { name: 'hk', type: 'link', linkname: 'k' },
      ],
      [
        { name: 'f', data: b('v2') },
        { name: '.wh.g' },
        { name: 'late', type: 'link', linkname: 'k' },
        { name: 'dangling', type: 'link', linkname: 'g' },
      ],
    ]);
    assert.deepEqual(entries.get('f'), { type: 'file', data: 'v2', mode: 0o644 });
    assert.deepEqual(entries.get('h1'), { type: 'file', data: 'v1', mode: 0o644 });
    assert.deepEqual(entries.get('h2'), { type: 'link', linkname: 'h1', mode: 0o644 });
    assert.deepEqual(entries.get('hg'), { type: 'file', data: 'gone', mode: 0o644 });
    assert.deepEqual(entries.get('hk'), { type: 'link', linkname: 'k', mode: 0o644 });
    assert.deepEqual(entries.get('late'), { type: 'link', linkname: 'k', mode: 0o644 });
    assert.ok(!entries.has('g') && !entries.has('dangling'));
    assert.match(warnings.join('\n'), /hard link "dangling" → "g" has no target; left out/);
  },
);

test('symlinks are kept as they are; a symlink or file replacing a directory hides what was under it', async () => {
  const { entries } = await flat([
    [
      { name: 'dir/', type: 'directory' },
      { name: 'dir/file', data: b('x') },
      { name: 'plain/', type: 'directory' },
      { name: 'plain/f', data: b('f') },
      { name: 'up', type: 'symlink', linkname: '../../etc/passwd' },
      { name: 'empty', type: 'symlink', linkname: '' },
    ],
    [
      { name: 'dir', type: 'symlink', linkname: '/elsewhere' },
      { name: 'plain', data: b('now a file') },
    ],
  ]);
  assert.deepEqual(names(entries), ['dir', 'empty', 'plain', 'up']);
  assert.deepEqual(entries.get('dir'), { type: 'symlink', linkname: '/elsewhere', mode: 0o644 });
  assert.equal(entries.get('up')!.linkname, '../../etc/passwd');
});

test('long names and link targets (>100 bytes) survive through PAX; a mode of 0 stays 0', async () => {
  const long = `${'a'.repeat(70)}/${'b'.repeat(70)}/${'c'.repeat(40)}.txt`;
  // tar-stream turns a mode of 0 into 0644; 0o100000 is written as 0000.
  const { entries } = await flat([
    [
      { name: long, data: b('deep'), mode: 0o100000 },
      { name: 'ln', type: 'symlink', linkname: `/${long}` },
      { name: `x/${'é'.repeat(10)}`, data: b('utf8') },
    ],
  ]);
  assert.deepEqual(entries.get(long), { type: 'file', data: 'deep', mode: 0 });
  assert.equal(entries.get('ln')!.linkname, `/${long}`);
  assert.equal(entries.get(`x/${'é'.repeat(10)}`)!.data, 'utf8');
});

test('an entry or hard link that climbs out of the root is refused before anything is written', async () => {
  for (const bad of [
    [{ name: '../x', data: b('evil') }],
    [{ name: 'a/../../x', data: b('evil') }],
    [{ name: 'l', type: 'link' as const, linkname: '../../etc/passwd' }],
  ]) {
    const tars = [await makeTar([{ name: 'ok', data: b('fine') }]), await makeTar(bad)];
    let written = 0;
    const sink = new PassThrough().on('data', (c: Buffer) => (written += c.length));
    await assert.rejects(
      flatten(
        tars.map((t) => async () => Readable.from([t])),
        sink,
      ),
      (e: unknown) => e instanceof UnsafePathError && /escapes the image root; refusing/.test(e.message),
    );
    assert.equal(written, 0);
  }
});

test('entries with the same name in one layer: the last wins; names are cleaned (./, //, trailing /)', async () => {
  const { entries } = await flat([
    [
      { name: './a//b', data: b('1') },
      { name: 'a/b', data: b('2') },
      { name: '/abs', data: b('root-relative') },
    ],
  ]);
  assert.deepEqual(names(entries), ['a/b', 'abs']);
  assert.equal(entries.get('a/b')!.data, '2');
});

test('extended attributes in PAX records are passed through', async () => {
  const p = pack();
  p.entry({ name: 'cap', size: 1, pax: { 'SCHILY.xattr.user.note': 'hello' } } as never, b('x'));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  const sink = new PassThrough();
  const out: Buffer[] = [];
  sink.on('data', (c: Buffer) => out.push(c));
  await flatten([async () => Readable.from([Buffer.concat(chunks)])], sink);
  const ex = extract();
  Readable.from([Buffer.concat(out)]).pipe(ex as never);
  let entries = 0;
  for await (const e of ex) {
    entries++;
    assert.equal(e.header.name, 'cap');
    assert.equal((e.header.pax as Record<string, string>)['SCHILY.xattr.user.note'], 'hello');
    e.resume();
  }
  assert.equal(entries, 1, 'the entry is in the flattened tar');
});

test('a layer whose bytes do not match its digest fails the flatten (gzip or plain)', async () => {
  for (const compression of ['none', 'gzip'] as const) {
    const img = await randomImage({ compression, layerSize: 4096 });
    const layer = (JSON.parse(img.manifest.toString()) as { layers: Descriptor[] }).layers[1]!;
    const bytes = Buffer.from(img.blobs.map.get(layer.digest)!);
    bytes[compression === 'none' ? 1200 : bytes.length - 12]! ^= 0xff;
    img.blobs.map.set(layer.digest, bytes);
    const r = await resolveImage(img);
    await assert.rejects(
      flatten(
        r.layers.map((l) => l.uncompressed),
        new PassThrough().resume(),
      ),
      /the bytes hash to sha256:/,
      compression,
    );
  }
});

let images: Map<string, TestImage>;
before(async () => {
  images = await loadTestImages(await makeTestImages());
});

/** Type, mode, content hash or link target, and hard-link group of every path under a directory. */
function describe(root: string): string[] {
  const out: string[] = [];
  const inodes = new Map<number, string>();
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      const kind = st.isDirectory()
        ? 'd'
        : st.isSymbolicLink()
          ? `l→${readlinkSync(p)}`
          : `f:${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 12)}`;
      const group = st.isFile() && st.nlink > 1 ? ` =${inodes.get(st.ino) ?? (inodes.set(st.ino, r), r)}` : '';
      out.push(`${r} ${kind} ${(st.mode & 0o7777).toString(8)}${group}`);
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(root, '');
  return out;
}

test('the umoci-made whiteout image flattens to what umoci unpack produces', async () => {
  const img = images.get('layers')!;
  const r = await resolveImage(await new OciLayout(img.layout).get(img.tag));
  const dir = tempDir('kura-flatten-');
  const file = join(dir, 'rootfs.tar');
  const res = await flatten(
    r.layers.map((l) => l.uncompressed),
    createWriteStream(file),
  );
  assert.deepEqual(res.warnings, []);
  mkdirSync(join(dir, 'ours'));
  await run('tar', ['-xf', file, '-C', join(dir, 'ours')]);
  await run('umoci', ['unpack', '--image', `${img.layout}:${img.tag}`, join(dir, 'umoci')]);
  const ours = describe(join(dir, 'ours'));
  assert.deepEqual(ours, describe(join(dir, 'umoci', 'rootfs')));
  assert.ok(
    ours.some((l) => l.startsWith('data/linked-b.txt f:') && l.includes(' =data/linked-a.txt')),
    'the hard link stays a hard link',
  );
  assert.ok(!ours.some((l) => /remove-me|old1|old2/.test(l)));
});
