/**
 * The mutation commands (append, mutate, rebase, flatten, index add/remove/annotate) on real OCI layouts, their
 * results read back by umoci (unpacked filesystems) and skopeo (manifests), and `mutate` compared field by field
 * with `umoci config` making the same changes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kuraOk, runKura } from './helpers.js';
import { hasTool, loadTestImages, makeTestImages, type TestImage } from './kura-process.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-mutate-'));
let images: Map<string, TestImage>;
const out = (tag: string) => `oci:${join(dir, 'out')}:${tag}`;

before(async () => {
  const missing = ['umoci', 'skopeo'].filter((t) => !hasTool(t));
  assert.deepEqual(missing, [], `missing tools (CI installs them: .ci/run): ${missing.join(', ')}`);
  images = await loadTestImages(await makeTestImages());
});
after(() => rmSync(dir, { recursive: true, force: true }));

const layers = () => `oci:${images.get('layers')!.layout}:v1`;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
const raw = (loc: string) => JSON.parse(sh('skopeo', ['inspect', '--raw', loc])) as Record<string, any>;
const config = async (loc: string) => JSON.parse((await kuraOk(['config', loc])).stdout) as Record<string, any>;

/** umoci's unpacked root filesystem of an image as lines: path, type, mode, owner, content hash or link. */
function tree(loc: string): string[] {
  const [, path, tag] = /^oci:(.*):([^:]+)$/.exec(loc)!;
  const bundle = join(dir, `bundle-${createHash('sha256').update(loc).digest('hex').slice(0, 8)}`);
  rmSync(bundle, { recursive: true, force: true });
  sh('umoci', ['unpack', '--image', `${path}:${tag}`, bundle]);
  const lines: string[] = [];
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const st = lstatSync(p);
      const what = st.isSymbolicLink()
        ? `-> ${readlinkSync(p)}`
        : st.isFile()
          ? createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)
          : 'dir';
      lines.push(`${rel}${name} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory()) walk(p, `${rel}${name}/`);
    }
  };
  walk(join(bundle, 'rootfs'), '/');
  return lines;
}

test('append: a directory and a gzip tar as two layers; umoci unpacks both over the base', async () => {
  const d = join(dir, 'ctx');
  mkdirSync(join(d, 'bin'), { recursive: true });
  writeFileSync(join(d, 'bin', 'hello'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  const tarDir = join(dir, 'tarsrc');
  mkdirSync(tarDir);
  writeFileSync(join(tarDir, 'extra.txt'), 'extra\n');
  sh('tar', ['-czf', join(dir, 'extra.tar.gz'), '-C', tarDir, 'extra.txt']);
  await kuraOk([
    'append',
    layers(),
    '--layer',
    d,
    '--prefix',
    '/app',
    '-f',
    join(dir, 'extra.tar.gz'),
    '-t',
    out('app'),
    '-q',
  ]);
  const m = raw(out('app'));
  assert.equal(m.layers.length, 6);
  const files = tree(out('app'));
  assert.ok(
    files.includes(
      `/app/bin/hello 755 0:0 ${createHash('sha256').update('#!/bin/sh\necho hi\n').digest('hex').slice(0, 16)}`,
    ),
  );
  assert.ok(files.some((l) => l.startsWith('/extra.txt 644')));
  // The base's files are all still there.
  for (const l of tree(layers())) assert.ok(files.includes(l), `kept ${l}`);
  const c = await config(out('app'));
  assert.equal(c.rootfs.diff_ids.length, 6);
  assert.match(c.history.at(-1).created_by, /^kura append file /);
});

test('mutate: the same config as umoci config making the same changes', async () => {
  const copy = join(dir, 'umoci-layout');
  cpSync(images.get('layers')!.layout, copy, { recursive: true });
  sh('umoci', [
    'config',
    '--image',
    `${copy}:v1`,
    '--tag',
    'u',
    '--config.entrypoint',
    '/app/bin/hello',
    '--config.cmd',
    'a',
    '--config.cmd',
    'b',
    '--config.env',
    'A=1',
    '--config.label',
    'x=y',
    '--config.user',
    '1000:1000',
    '--config.workingdir',
    '/app',
    '--config.exposedports',
    '8080/tcp',
    '--manifest.annotation',
    'org.k=v',
  ]);
  await kuraOk([
    'mutate',
    layers(),
    '--entrypoint',
    '["/app/bin/hello"]',
    '--cmd',
    'a,b',
    '--env',
    'A=1',
    '-l',
    'x=y',
    '-u',
    '1000:1000',
    '-w',
    '/app',
    '--exposed-ports',
    '8080',
    '-a',
    'org.k=v',
    '-t',
    out('m'),
    '-q',
  ]);
  const [ours, theirs] = [await config(out('m')), await config(`oci:${copy}:u`)];
  for (const k of ['Entrypoint', 'Cmd', 'Env', 'Labels', 'User', 'WorkingDir', 'ExposedPorts'])
    assert.deepEqual(ours.config[k], theirs.config[k], k);
  assert.equal(raw(out('m')).annotations['org.k'], raw(`oci:${copy}:u`).annotations['org.k']);
  assert.deepEqual(ours.rootfs, theirs.rootfs);
  const bad = await runKura(['mutate', layers(), '--exposed-ports', 'http', '-t', out('x')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^kura: error: --exposed-ports http: write PORT or PORT\/udp\n$/);
});

test('mutate --set-platform, then index add/annotate/remove, read back by skopeo', async () => {
  const multi = `oci:${images.get('multiarch')!.layout}:latest`;
  await kuraOk(['index', 'remove', multi, '--platform', 'linux/arm64', '-t', out('amd'), '-q']);
  assert.deepEqual(
    raw(out('amd')).manifests.map((d: any) => d.platform.architecture),
    ['amd64'],
  );
  await kuraOk(['mutate', layers(), '--set-platform', 'linux/riscv64', '-t', out('riscv'), '-q']);
  await kuraOk(['index', 'add', out('amd'), out('riscv'), '-t', out('two'), '-q']);
  const two = raw(out('two'));
  assert.deepEqual(
    two.manifests.map((d: any) => d.platform.architecture),
    ['amd64', 'riscv64'],
  );
  assert.equal(two.annotations['org.opencontainers.image.title'], 'kura-test-multiarch', 'index annotations kept');
  await kuraOk(['index', 'annotate', out('two'), '--platform', 'linux/riscv64', '-a', 'k=v', '-t', out('ann'), '-q']);
  await kuraOk(['index', 'annotate', out('ann'), '-a', 'top=1', '-t', out('ann2'), '-q']);
  const ann = raw(out('ann2'));
  assert.deepEqual(ann.manifests[1].annotations, { k: 'v' });
  assert.equal(ann.annotations.top, '1');
  // skopeo copies the edited index whole (every child readable).
  sh('skopeo', ['copy', '--all', out('ann2'), `oci:${join(dir, 'skopeo-copy')}:x`]);
  // The same image again changes nothing; another image for a platform the index has is refused.
  await kuraOk(['index', 'add', out('two'), out('riscv'), '-t', out('same'), '-q']);
  assert.equal(raw(out('same')).manifests.length, 2);
  const dup = await runKura(['index', 'add', out('two'), layers(), '-t', out('dup')]);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /^kura: error: two images for linux\/amd64/);
  const none = await runKura(['index', 'remove', out('two'), '--platform', 'linux/s390x', '-t', out('x')]);
  assert.match(none.stderr, /^kura: error: the index has no entry linux\/s390x/);
});

test('flatten: one layer with the same filesystem as the layered image (whiteouts applied)', async () => {
  await kuraOk(['flatten', layers(), '-t', out('flat'), '-q']);
  assert.equal(raw(out('flat')).layers.length, 1);
  assert.deepEqual(tree(out('flat')), tree(layers()));
  const c = await config(out('flat'));
  assert.deepEqual((await config(layers())).config, c.config);
  assert.equal(c.history.length, 1);
  assert.match(c.history[0].created_by, /^kura flatten sha256:/);
});

test('rebase: the app layers onto a new base; an old base that is not a prefix is refused', async () => {
  const tiny = `oci:${images.get('tiny')!.layout}:latest`;
  const d = join(dir, 'app-only');
  mkdirSync(d);
  writeFileSync(join(d, 'app.txt'), 'app\n');
  await kuraOk(['append', layers(), '--layer', d, '-t', out('onlayers'), '-q']);
  await kuraOk(['rebase', out('onlayers'), '--old-base', layers(), '--new-base', tiny, '-t', out('rebased'), '-q']);
  const m = raw(out('rebased'));
  assert.deepEqual(
    m.layers.map((l: any) => l.digest),
    [...raw(tiny).layers.map((l: any) => l.digest), raw(out('onlayers')).layers.at(-1).digest],
  );
  const files = tree(out('rebased'));
  assert.deepEqual(
    files.filter((l) => !l.startsWith('/app.txt ')),
    tree(tiny),
  );
  assert.ok(files.some((l) => l.startsWith('/app.txt 644 0:0')));
  const c = await config(out('rebased'));
  assert.equal(c.history.at(-1).created_by, `kura append directory ${d}`);
  const bad = await runKura(['rebase', out('onlayers'), '--old-base', tiny, '--new-base', layers(), '-t', out('x')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^kura: error: the old base's layers are not the first layers of the app/);
});
