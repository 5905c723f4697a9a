/** WORKDIR and COPY on a tree not unpacked: the view of the layer headers, the same layers as the unpacked tree. */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Artifact } from '../oci/artifact.js';
import type { Digest } from '../oci/digest.js';
import { openImage } from '../oci/image.js';
import { appendLayers, rebuildImage } from '../oci/mutate.js';
import { buildInput, buildSkip, BUSYBOX, writeContext } from '../test/build-kit.js';
import { build } from './builder.js';
import { indexPath, readEntries } from './layer-index.js';
import { TreeView, type Node } from './lazy-tree.js';
import { applyLayer } from './unpack.js';

const work = mkdtempSync(join(tmpdir(), 'kura-lazy-tree-'));
after(() => rmSync(work, { recursive: true, force: true }));
const [uid, gid] = [process.getuid?.() ?? 0, process.getgid?.() ?? 0];

type E = { name: string; type?: tar.Header['type']; body?: string | Buffer; linkname?: string; mode?: number };

/** A layer tar of `entries`, in order, owned by this process (so no root is needed to unpack it). */
async function tarOf(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((res) => pack.on('end', () => res()));
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'directory' : 'file');
    const body = e.body ?? (type === 'file' ? '' : undefined);
    const h = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid, gid };
    const mtime = new Date(1_600_000_000_000);
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (body !== undefined) pack.entry({ ...h, mtime, size: Buffer.byteLength(body) }, body, cb);
      else pack.entry({ ...h, mtime, ...(e.linkname ? { linkname: e.linkname } : {}) }, cb);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

// lower layers with what the lazy path must get right: whiteouts, an opaque directory, a file replacing a directory
// and the reverse, parents not in the tar, hard links, a symlinked directory, a file where COPY writes
const LAYERS: E[][] = [
  [
    { name: 'lower/' },
    { name: 'lower/file', body: 'old file\n' },
    { name: 'lower/keep/a', body: 'a\n' },
    { name: 'lower/old/x', body: 'x\n' },
    { name: 'lower/old/sub/deep', body: 'deep\n' },
    { name: 'lower/gone/z', body: 'z\n' },
    { name: 'lower/swap/c', body: 'c\n' },
    { name: 'lower/fileToDir', body: 'f\n' },
    { name: 'real/' },
    { name: 'linkdir', type: 'symlink', linkname: 'real' },
    { name: 'hard/a', body: 'hard\n' },
    { name: 'hard/b', type: 'link', linkname: 'hard/a' },
    { name: 'implicit/parents/f', body: 'f\n' },
  ],
  [
    { name: 'lower/old/' },
    { name: 'lower/old/.wh..wh..opq' },
    { name: 'lower/old/y', body: 'y\n' },
    { name: 'lower/.wh.gone' },
    { name: 'lower/swap', body: 'now a file\n' },
    { name: 'lower/fileToDir/' },
    { name: 'lower/fileToDir/in', body: 'in\n' },
    { name: 'elsewhere/.wh.never' },
  ],
];

/** Path → type (and link target) of a directory tree. */
function listDir(dir: string, rel = '', out: Record<string, string> = {}): Record<string, string> {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, p));
    out[p] = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `symlink ${readlinkSync(join(dir, p))}` : 'file';
    if (st.isDirectory()) listDir(dir, p, out);
  }
  return out;
}

function listView(n: Node, rel = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [name, c] of [...n.children!].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const p = rel ? `${rel}/${name}` : name;
    out[p] = c.type === 'symlink' ? `symlink ${c.link}` : c.type;
    if (c.type === 'dir') listView(c, p, out);
  }
  return out;
}

test('the view of the layers headers is the tree the unpacker makes of them', async () => {
  const dir = join(work, 'unpacked');
  mkdirSync(dir);
  const view = new TreeView();
  for (const l of LAYERS) {
    const t = await tarOf(l);
    await applyLayer(dir, Readable.from([t]));
    view.apply(await readEntries(Readable.from([t])));
  }
  assert.equal(view.strange, false);
  const want = listDir(dir);
  assert.deepEqual(listView(view.root), want);
  assert.equal(want['lower/old/x'], undefined, 'the opaque directory dropped the lower entries');
  assert.equal(want['lower/old/y'], 'file');
  assert.equal(want['lower/swap'], 'file');
  assert.equal(want['lower/fileToDir/in'], 'file');
  assert.equal(want['elsewhere'], 'dir', 'a whiteout makes its parents, as the unpacker does');
  // a parent that is not a directory: the unpacker fails there, so the view says it cannot tell
  const odd = new TreeView();
  odd.apply(
    await readEntries(
      Readable.from([
        await tarOf([
          { name: 'f', body: '1' },
          { name: 'f/g', body: '2' },
        ]),
      ]),
    ),
  );
  assert.equal(odd.strange, true);
});

/** An image of LAYERS over a layer with busybox (so that RUN works), as `FROM base` opens it. */
async function baseImage(): Promise<Artifact> {
  const ctx = writeContext(join(work, 'empty'), { x: '' });
  const empty = await build(buildInput('FROM scratch\nENV A=1\n', ctx));
  const bin: E[] = [
    { name: 'bin/' },
    { name: 'bin/busybox', body: readFileSync(BUSYBOX), mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/echo', type: 'symlink', linkname: 'busybox' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
  ];
  const layers = await Promise.all([bin, ...LAYERS].map(tarOf));
  return appendLayers(
    empty,
    layers.map((t) => ({ tar: t })),
    { created: new Date(1_700_000_000_000) },
  );
}

const layerDigests = (a: Artifact) => openImage(a).manifest.layers.map((l) => l.digest);

/**
 * The Dockerfile built three ways: cold with a cache (the RUN unpacks the tree, every step after it reads the
 * directory), warm after `v.txt` changed (the RUN is a cache hit: the steps after v.txt take the lazy path when
 * they can) and cold again without a cache on the changed context: the warm and the second cold must be the same.
 */
async function threeWays(name: string, steps: string[]) {
  const base = await baseImage();
  const ctx = writeContext(join(work, name), {
    'v.txt': '1\n',
    'a.txt': 'a\n',
    'src/index.js': 'console.log(1)\n',
    'src/lib/util.js': 'util\n',
    'more/old/x': 'new x\n',
    'more/gone/w': 'w\n',
    'more/keep/b': 'b\n',
    'more/swap': 'swap file\n',
    'f.txt': 'f\n',
    'h.txt': 'h\n',
    'top.txt': 'top\n',
    'g.txt': 'g\n',
  });
  const df = ['FROM base', 'RUN echo run > /run.txt', 'COPY v.txt /v.txt', ...steps].join('\n');
  const cache = join(work, `${name}-cache`);
  const more = { openImage: () => Promise.resolve(base) };
  const first = await build(buildInput(df, ctx, cache, more));
  writeFileSync(join(ctx, 'v.txt'), '2\n');
  let unpacked = 0;
  const onUnpack = (n: number) => void (unpacked += n);
  const warm = await build(buildInput(df, ctx, cache, { ...more, onUnpack }));
  const warmUnpacked = unpacked;
  const cold = await build(buildInput(df, ctx, undefined, more));
  assert.notEqual(warm.descriptor.digest, first.descriptor.digest);
  return { first, warm, cold, warmUnpacked, cache };
}

const LAZY_STEPS = [
  'WORKDIR /app/deep',
  'COPY a.txt ./',
  'COPY src ./src',
  'COPY more/ /lower/',
  'COPY f.txt /lower/file',
  'COPY h.txt /hard/b',
  'COPY top.txt /',
  'COPY src /lower/keep/',
  'WORKDIR /lower/keep',
  'WORKDIR /implicit/parents/new',
];

test('lazy WORKDIR and COPY: no unpacking, the layers of the unpacked tree', { skip: buildSkip }, async () => {
  const { first, warm, cold, warmUnpacked, cache } = await threeWays('lazy', LAZY_STEPS);
  // the cold build kept every layer's headers: the base's as the RUN unpacked them, the others' as they were made
  const firstIds = (await openImage(first).config()).rootfs.diff_ids;
  for (const [i, l] of openImage(first).manifest.layers.entries()) {
    const kept = JSON.parse(readFileSync(indexPath(cache, firstIds[i]!), 'utf8')) as unknown;
    assert.deepEqual(kept, await readEntries((await first.blobs.open(l)).pipe(createGunzip())), `layer ${i}`);
  }
  assert.equal(warmUnpacked, 0, 'the steps after the change read the layers headers, not the tree');
  assert.deepEqual(layerDigests(warm), layerDigests(cold));
  assert.equal(warm.descriptor.digest, cold.descriptor.digest);
  // the base's headers are kept under its diff_id
  const ids = (await openImage(warm).config()).rootfs.diff_ids;
  assert.ok(readFileSync(indexPath(cache, ids[0]!), 'utf8').includes('bin/busybox'));
  // a rebuild with nothing changed unpacks nothing either
  let unpacked = 0;
  const base = await baseImage();
  const df = ['FROM base', 'RUN echo run > /run.txt', 'COPY v.txt /v.txt', ...LAZY_STEPS].join('\n');
  const again = await build(
    buildInput(df, join(work, 'lazy'), cache, {
      openImage: () => Promise.resolve(base),
      onUnpack: (n) => void (unpacked += n),
    }),
  );
  assert.equal(again.descriptor.digest, warm.descriptor.digest);
  assert.equal(unpacked, 0);
});

test('a COPY through a symlinked directory falls back to the tree: the same layers', { skip: buildSkip }, async () => {
  const { warm, cold, warmUnpacked } = await threeWays('symlink', ['WORKDIR /app', 'COPY g.txt /linkdir/']);
  assert.ok(warmUnpacked > 0, 'the destination goes through a symlink: the tree was unpacked');
  assert.equal(warm.descriptor.digest, cold.descriptor.digest);
});

/** A build of `steps` on the base without a RUN (nothing forces the tree), counting the layers unpacked. */
async function noRun(name: string, steps: string[]) {
  const ctx = writeContext(join(work, name), { 'a.txt': 'a\n', 'more/x': 'x\n' });
  const base = await baseImage();
  const trace = { unpacked: 0 };
  const input = buildInput(['FROM base', ...steps].join('\n'), ctx, undefined, {
    openImage: () => Promise.resolve(base),
    onUnpack: (n) => void (trace.unpacked += n),
  });
  return { trace, image: build(input) };
}

test('a WORKDIR through a symlink falls back to the tree and fails there as before', async () => {
  const { trace, image } = await noRun('symlink-workdir', ['WORKDIR /linkdir/x']);
  await assert.rejects(image, /\/linkdir is not a directory in the image/);
  assert.ok(trace.unpacked > 0, 'the tree was read');
});

test('COPY of a directory onto a file fails the same way on the lazy path', async () => {
  const { trace, image } = await noRun('onto-file', ['COPY more/ /lower/file/']);
  await assert.rejects(image, /cannot copy directory more onto file \/lower\/file/);
  assert.equal(trace.unpacked, 0);
});

test('the lazy path leaves no stray files in the scratch layer', async () => {
  const { trace, image } = await noRun('scratch-only', ['WORKDIR /lower/keep', 'COPY a.txt ./']);
  const done = await image;
  assert.equal(trace.unpacked, 0, 'no RUN: nothing is unpacked, cold or not');
  const last = openImage(done).manifest.layers.at(-1)!;
  const names = (await readEntries((await done.blobs.open(last)).pipe(createGunzip()))).map((e) => e[0]);
  assert.deepEqual(names, ['lower/keep/a.txt'], 'only the copied file: not the placeholders of lower/keep/a');
});

test('a layer whose config states another diff_id: its headers are not kept, the tree is read', async () => {
  const base = await baseImage();
  const fake = `sha256:${'0'.repeat(64)}`;
  const lying = await rebuildImage(base, (d) => void (d.config.rootfs.diff_ids[1] = fake as Digest));
  const ctx = writeContext(join(work, 'lying'), { 'a.txt': 'a\n' });
  const cache = join(work, 'lying-cache');
  let unpacked = 0;
  const input = buildInput('FROM base\nWORKDIR /lower/keep/new\nCOPY a.txt ./\n', ctx, cache, {
    openImage: () => Promise.resolve(lying),
    onUnpack: (n) => void (unpacked += n),
  });
  const image = await build(input);
  assert.ok(unpacked > 0, 'the headers could not be vouched for: the tree was unpacked');
  assert.equal(existsSync(indexPath(cache, fake)), false, 'nothing kept under the false diff_id');
  const ids = (await openImage(image).config()).rootfs.diff_ids;
  assert.ok(existsSync(indexPath(cache, ids.at(-1)!)), 'the layer made is kept, as it was written');
});
