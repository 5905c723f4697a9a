/** The layer cache's speed: a cache hit appends the cached gzip blob as it is (no gunzip + gzip round trip). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Artifact } from '../oci/artifact.js';
import { openImage } from '../oci/image.js';
import { build } from './builder.js';
import { buildInput } from '../test/build-kit.js';

const work = mkdtempSync(join(tmpdir(), 'kura-step-cache-'));
after(() => rmSync(work, { recursive: true, force: true }));

const layerDigests = (a: Artifact) => openImage(a).manifest.layers.map((l) => l.digest);
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('a cache hit appends the cached gzip blob as it is: same digests, a changed gzip header shows', async () => {
  const ctx = join(work, 'ctx');
  const cache = join(work, 'cache');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'a.txt'), 'a\n'.repeat(1000));
  writeFileSync(join(ctx, 'b.txt'), 'b\n');
  const df = 'FROM scratch\nCOPY a.txt /a.txt\nCOPY b.txt /b.txt\n';
  const first = await build(buildInput(df, ctx, cache));
  const hits: string[] = [];
  const again = await build(buildInput(df, ctx, cache, { onStep: (l) => l.includes('Using cache') && hits.push(l) }));
  assert.equal(hits.length, 2, 'both COPY steps were cache hits');
  assert.deepEqual(layerDigests(again), layerDigests(first));
  assert.equal(again.descriptor.digest, first.descriptor.digest);
  // the cached files' gzip OS byte changed (the tar inside stays the same) and their recorded digests dropped:
  // a step that recompressed would give the first digests again; one that reuses the blob gives the files' own
  const files = readdirSync(join(cache, 'layers'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.tar.gz'))
    .map((f) => join(cache, 'layers', f));
  assert.equal(files.length, 2);
  for (const f of files) {
    const gz = readFileSync(f);
    gz[9] = gz[9] === 3 ? 11 : 3; // the OS byte of the gzip header: not part of the compressed data
    writeFileSync(f, gz);
    writeFileSync(`${f}.ok`, '');
  }
  const changed = await build(buildInput(df, ctx, cache));
  const want = files.map((f) => sha(readFileSync(f)));
  assert.deepEqual([...layerDigests(changed)].sort(), [...want].sort());
  assert.notDeepEqual(layerDigests(changed), layerDigests(first));
  // the digests were hashed once and kept beside the entry
  for (const f of files) assert.equal(JSON.parse(readFileSync(`${f}.ok`, 'utf8')).digest, sha(readFileSync(f)));
  // the blobs read back whole and verify
  for (const l of openImage(changed).manifest.layers) {
    const chunks: Buffer[] = [];
    for await (const c of await changed.blobs.open(l)) chunks.push(c as Buffer);
    assert.equal(sha(Buffer.concat(chunks)), l.digest);
  }
});

const runSkip =
  process.getuid?.() !== 0 || !existsSync('/bin/busybox') || spawnSync('runc', ['--version']).status !== 0
    ? 'needs root, runc and /bin/busybox (busybox-static), as .ci/run installs them'
    : false;

test('lazy rootfs: a cached rebuild unpacks nothing, a warm one the cold digests', { skip: runSkip }, async () => {
  const ctx = join(work, 'lazy');
  const files = (src: string) => {
    mkdirSync(join(ctx, 'root/bin'), { recursive: true });
    mkdirSync(join(ctx, 'root/etc'), { recursive: true });
    mkdirSync(join(ctx, 'src'), { recursive: true });
    copyFileSync('/bin/busybox', join(ctx, 'root/bin/busybox'));
    rmSync(join(ctx, 'root/bin/sh'), { force: true });
    symlinkSync('busybox', join(ctx, 'root/bin/sh'));
    writeFileSync(join(ctx, 'root/etc/old'), 'deleted by a RUN\n');
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    writeFileSync(join(ctx, 'src/one.txt'), 'one\n');
    writeFileSync(join(ctx, 'src/two.txt'), src);
  };
  const df = [
    'FROM scratch',
    'COPY root/ /',
    'COPY a.txt /a.txt',
    'RUN cat /a.txt /a.txt > /b.txt && rm /etc/old',
    'COPY src/ /src/',
    'RUN ls /src > /list && cat /src/* /b.txt > /all && test ! -e /etc/old',
  ].join('\n');
  const cache = join(work, 'lazy-cache');
  files('two\n');
  const first = await build(buildInput(df, ctx, cache));
  let unpacked = 0;
  const onUnpack = (n: number) => void (unpacked += n);
  const cached = await build(buildInput(df, ctx, cache, { onUnpack }));
  assert.equal(cached.descriptor.digest, first.descriptor.digest);
  assert.equal(unpacked, 0, 'a fully cached rebuild unpacks no layer');
  files('two, changed\n');
  const warm = await build(buildInput(df, ctx, cache, { onUnpack }));
  // the COPY src/ that runs writes into the tree (the RUN after it reads it anyway): the cached layers are unpacked
  assert.equal(unpacked, 3, 'the last RUN needs the tree: the three cached layers below it are unpacked');
  const cold = await build(buildInput(df, ctx, undefined));
  assert.equal(warm.descriptor.digest, cold.descriptor.digest);
  assert.deepEqual(layerDigests(warm).slice(0, 3), layerDigests(first).slice(0, 3));
  assert.notEqual(warm.descriptor.digest, first.descriptor.digest);
});
