import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { randomImage } from '../oci/random.js';
import { OciLayout } from '../transports/layout/index.js';
import { analysisFixture, fixtureMissing, type AnalysisFixture } from './analysis-fixture.js';
import { runKura } from './helpers.js';
import { tempDir } from './tempdirs.js';

const work = tempDir('kura-files-');
const env: NodeJS.ProcessEnv = { ...process.env, KURA_STORE: join(work, 'store') };
delete env.CI;
const kura = (...args: string[]) => runKura(args, { env });

const skip = fixtureMissing();
let fx: AnalysisFixture;
before(async () => {
  if (!skip) fx = await analysisFixture();
});

interface Seen {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  link?: string;
}

/** What `umoci unpack` wrote, by path, as lstat sees it. */
function walk(root: string, rel = '', out = new Map<string, Seen>()): Map<string, Seen> {
  for (const name of readdirSync(join(root, rel))) {
    const p = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(root, p));
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
    out.set(`/${p}`, {
      type,
      mode: type === 'symlink' ? 0o777 : st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      ...(type === 'file' ? { size: st.size } : {}),
      ...(type === 'symlink' ? { link: readlinkSync(join(root, p)) } : {}),
    });
    if (type === 'dir') walk(root, p, out);
  }
  return out;
}

test('kura ls -R agrees with umoci unpack of the same image, file for file and mode for mode', { skip }, async () => {
  const r = await kura('ls', '-R', '--json', fx.v1);
  assert.equal(r.code, 0, r.stderr);
  const listed = JSON.parse(r.stdout) as {
    path: string;
    type: string;
    mode: number;
    uid: number;
    gid: number;
    size: number;
    link?: string;
  }[];
  const ours = new Map<string, Seen>(
    listed.map((e) => [
      e.path,
      {
        type: e.type,
        mode: e.type === 'symlink' ? 0o777 : e.mode,
        uid: e.uid,
        gid: e.gid,
        ...(e.type === 'file' ? { size: e.size } : {}),
        ...(e.link !== undefined ? { link: e.link } : {}),
      },
    ]),
  );
  const theirs = walk(fx.rootfs);
  assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
  for (const [p, s] of theirs) assert.deepEqual(ours.get(p), s, p);
  // the cases the fixture is built for
  for (const gone of [
    '/data/remove-me.txt',
    '/opq/old1.txt',
    '/opq/sub',
    '/root/.ssh/id_rsa',
    '/cache/big.bin',
    '/cache/sub',
  ])
    assert.ok(!ours.has(gone), gone);
  assert.equal(ours.get('/data/up')!.link, '../../../../etc/shadow');
  assert.equal(ours.get('/usr/bin/su')!.mode, 0o4755);
  const h2 = listed.find((e) => e.path === '/data/h2') as { hardlink?: string; layer?: number };
  assert.equal(h2.hardlink, '/data/h1');
});

test(
  'kura ls: a directory’s children, a glob, --sort size, --layer N with its whiteouts; bad input',
  { skip },
  async () => {
    const top = JSON.parse((await kura('ls', '--json', fx.v1, '/data')).stdout) as { path: string; layer: number }[];
    assert.deepEqual(
      top.map((e) => e.path),
      ['/data/abs', '/data/dirlink', '/data/h1', '/data/h2', '/data/keep.txt', '/data/up', '/data/up2', '/data/ww'],
    );
    assert.equal(top.find((e) => e.path === '/data/abs')!.layer, 2, 'the layer that last wrote it');
    const glob = JSON.parse((await kura('ls', '--json', fx.v1, '/usr/bin/*')).stdout) as {
      path: string;
      modeString: string;
    }[];
    assert.deepEqual(
      glob.map((e) => [e.path, e.modeString]),
      [
        ['/usr/bin/su', '-rwsr-xr-x'],
        ['/usr/bin/wall', '-rwxr-sr-x'],
      ],
    );
    const bySize = JSON.parse((await kura('ls', '-R', '--sort', 'size', '--json', fx.v1)).stdout) as { path: string }[];
    assert.equal(bySize[0]!.path, '/app/.env');
    const layer1 = JSON.parse((await kura('ls', '--layer', '1', '-R', '--json', fx.v1)).stdout) as {
      entries: { path: string }[];
      removes: string[];
    };
    assert.ok(layer1.entries.some((e) => e.path === '/opq/new.txt'));
    assert.deepEqual(layer1.removes.sort(), [
      '/cache (whiteout)',
      '/data/remove-me.txt (whiteout)',
      '/opq/* (opaque: lower contents hidden)',
      '/root/.ssh/id_rsa (whiteout)',
    ]);
    const table = await kura('ls', fx.v1, '/data/up');
    assert.match(
      table.stdout,
      /lrwxrwxrwx\s+0\/0\s+0\s+2024-01-01 00:00\s+0\s+\/data\/up -> \.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow/,
    );
    const missing = await kura('ls', fx.v1, '/nope');
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'kura: error: /nope: no such file or directory in the image\n');
    assert.match(
      (await kura('ls', '--layer', '9', fx.v1)).stderr,
      /^kura: error: --layer takes a layer number from 0 to 2/,
    );
  },
);

test(
  'kura cat: one file’s bytes, symlinks followed inside the root, a hard link whose target was replaced keeps its ' +
    'old content',
  { skip },
  async () => {
    assert.equal((await kura('cat', fx.v1, '/data/h2')).stdout, 'hardlinked v1\n');
    assert.equal((await kura('cat', fx.v1, '/data/h1')).stdout, 'replaced\n');
    assert.equal((await kura('cat', fx.v1, 'data/dirlink/passwd')).stdout, 'root:x:0:0::/root:/bin/sh\n');
    assert.equal(
      (await kura('cat', fx.v1, '/data/up2/data/up2/etc/passwd')).stdout,
      'root:x:0:0::/root:/bin/sh\n',
      'a link to / stays in the image',
    );
    assert.equal((await kura('cat', fx.v1, '/etc/conf/inner')).stdout, 'inner\n');
    const dir = await kura('cat', fx.v1, '/etc');
    assert.equal(dir.code, 1);
    assert.equal(dir.stderr, 'kura: error: /etc is a directory; list it with kura ls, or copy it out with kura cp\n');
    const dangling = await kura('cat', fx.v1, '/data/up');
    assert.equal(
      dangling.stderr,
      'kura: error: /etc/shadow: no such file or directory in the image\n',
      '../../../../etc/shadow resolves inside the root',
    );
  },
);

test(
  'kura cp: a directory tree and a file out of an image, as docker cp places them; symlinks stay links',
  { skip },
  async () => {
    const dest = mkdtempSync(join(work, 'cp-'));
    const r = await kura('cp', `${fx.v1}:/data`, dest);
    assert.equal(r.code, 0, r.stderr);
    const got = walk(join(dest, 'data'));
    const want = new Map(
      [...walk(join(fx.rootfs, 'data'))].map(([p, s]) => [
        p,
        { ...s, mode: s.type === 'symlink' ? s.mode : s.mode & 0o777 },
      ]),
    );
    assert.deepEqual(got, want);
    assert.equal(readFileSync(join(dest, 'data', 'h2'), 'utf8'), 'hardlinked v1\n');
    assert.equal(readlinkSync(join(dest, 'data', 'up')), '../../../../etc/shadow');
    assert.deepEqual(readdirSync(dest), ['data'], 'nothing but the tree, no temp left');
    assert.equal((await kura('cp', `${fx.v1}:/etc/passwd`, join(dest, 'pw'))).code, 0);
    assert.equal(readFileSync(join(dest, 'pw'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
    assert.equal((await kura('cp', '-L', `${fx.v1}:/data/dirlink`, join(dest, 'etc-copy'))).code, 0);
    assert.ok(existsSync(join(dest, 'etc-copy', 'conf', 'inner')));
    const again = await kura('cp', `${fx.v1}:/data`, dest);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /^kura: error: .*data already exists as a directory; remove it or choose another destination/,
    );
    assert.match((await kura('cp', fx.v1, dest)).stderr, /^kura: error: .* is not IMAGE:PATH/);
  },
);

test('kura cp: nothing escapes DEST, whatever links the layers plant', async () => {
  const outside = mkdtempSync(join(work, 'outside-'));
  const art = await randomImage({
    files: [
      [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'up', type: 'symlink', linkname: '../../../../..' },
        { name: 'd/', type: 'directory' },
        { name: 'd/rel', type: 'symlink', linkname: '../../../' },
      ],
      [
        { name: 'evil/pwned', data: Buffer.from('inside') },
        { name: 'd/rel/escaped', data: Buffer.from('inside too') },
      ],
    ],
  });
  await new OciLayout(join(work, 'evil-layout')).write('v1', art);
  const dest = join(work, 'evil-dest');
  mkdirSync(dest);
  const r = await kura('cp', `oci:${join(work, 'evil-layout')}:v1:/`, join(dest, 'root'));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(outside), [], 'nothing written through the planted link');
  assert.equal(
    readFileSync(join(dest, 'root', 'evil', 'pwned'), 'utf8'),
    'inside',
    'a later layer’s path below a link makes a directory, as overlayfs does',
  );
  assert.equal(readFileSync(join(dest, 'root', 'd', 'rel', 'escaped'), 'utf8'), 'inside too');
  assert.equal(readlinkSync(join(dest, 'root', 'up')), '../../../../..', 'links are written as links, never followed');
  const evil = await randomImage({
    files: [
      [
        { name: 'a', data: Buffer.from('x') },
        { name: 'b', type: 'link', linkname: '../../etc/passwd' },
      ],
    ],
  });
  await new OciLayout(join(work, 'evil2')).write('v1', evil);
  const bad = await kura('cp', `oci:${join(work, 'evil2')}:v1:/`, join(dest, 'two'));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^kura: error: .*escapes the image root/);
  assert.ok(!existsSync(join(dest, 'two')));
  writeFileSync(join(work, 'unused'), '');
});
