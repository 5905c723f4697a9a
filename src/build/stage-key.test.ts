/** COPY --from and RUN --mount=from= keyed by the source's layer digests: a cache hit unpacks nothing of the source. */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Artifact } from '../oci/artifact.js';
import { openImage } from '../oci/image.js';
import { build } from './builder.js';
import type { BuildInput } from './state.js';
import { buildInput, buildSkip } from '../test/build-kit.js';

const work = mkdtempSync(join(tmpdir(), 'kura-stage-key-'));
after(() => rmSync(work, { recursive: true, force: true }));

const layerDigests = (a: Artifact) => openImage(a).manifest.layers.map((l) => l.digest);

/** A build that records each unpacking (layers per call) and how many steps were replayed from the cache. */
async function traced(text: string, ctx: string, cache: string | undefined, more: Partial<BuildInput> = {}) {
  const unpacks: number[] = [];
  let hits = 0;
  const image = await build(
    buildInput(text, ctx, cache, {
      onUnpack: (n) => void unpacks.push(n),
      onStep: (l) => void (l === '--> Using cache' && hits++),
      ...more,
    }),
  );
  return { image, unpacks, hits };
}

const write = (root: string, files: Record<string, string>) => {
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), body);
  }
};

const STAGES = [
  'FROM scratch AS deps',
  'COPY deps/ /out/',
  'COPY more/ /out/more/',
  'FROM scratch',
  'COPY --from=deps /out /app/deps',
  'COPY src/ /app/src/',
].join('\n');

test('COPY --from=stage: cached unpacks nothing; a change in the last stage leaves the first one packed', async () => {
  const ctx = join(work, 'stages');
  const cache = join(work, 'stages-cache');
  write(ctx, { 'deps/a.js': 'a\n', 'deps/sub/b.js': 'b\n', 'more/c.js': 'c\n', 'src/index.js': '1\n' });
  const first = await traced(STAGES, ctx, cache);
  assert.equal(first.hits, 0);
  const again = await traced(STAGES, ctx, cache);
  assert.equal(again.image.descriptor.digest, first.image.descriptor.digest);
  assert.equal(again.hits, 4, 'every layer step was a cache hit');
  assert.deepEqual(again.unpacks, [], 'a fully cached multi-stage rebuild unpacks no layer');

  write(ctx, { 'src/index.js': '2\n' });
  const warm = await traced(STAGES, ctx, cache);
  assert.deepEqual(
    warm.unpacks,
    [],
    'the COPY src that runs reads only the headers of the layers below it: nothing is unpacked, deps stays packed',
  );
  assert.equal(warm.hits, 3);
  const cold = await traced(STAGES, ctx, undefined);
  assert.equal(warm.image.descriptor.digest, cold.image.descriptor.digest);
  assert.deepEqual(layerDigests(warm.image)[0], layerDigests(first.image)[0]);
});

test('COPY --from=stage: a changed file in the first stage changes the key; warm gives the cold digests', async () => {
  const ctx = join(work, 'first-changed');
  const cache = join(work, 'first-changed-cache');
  write(ctx, { 'deps/a.js': 'a\n', 'more/c.js': 'c\n', 'src/index.js': '1\n' });
  const first = await traced(STAGES, ctx, cache);
  write(ctx, { 'more/c.js': 'c, changed\n' });
  const warm = await traced(STAGES, ctx, cache);
  // COPY deps/ is a hit; COPY more/ runs, and so do the COPY --from (its key changed) and the COPY src after it
  assert.equal(warm.hits, 1, 'only the step before the change was a cache hit');
  const cold = await traced(STAGES, ctx, undefined);
  assert.equal(warm.image.descriptor.digest, cold.image.descriptor.digest);
  assert.notEqual(warm.image.descriptor.digest, first.image.descriptor.digest);
  // a change that the copied path does not see still changes the key: the whole tree is what the key names
  write(ctx, { 'deps/a.js': 'a, changed\n' });
  const again = await traced(STAGES, ctx, cache);
  assert.equal(again.hits, 0);
});

test('--no-cache runs every step, COPY --from included, and gives the cold digests', async () => {
  const ctx = join(work, 'no-cache');
  const cache = join(work, 'no-cache-cache');
  write(ctx, { 'deps/a.js': 'a\n', 'more/c.js': 'c\n', 'src/index.js': '1\n' });
  const first = await traced(STAGES, ctx, cache);
  const fresh = await traced(STAGES, ctx, cache, { noCache: true });
  assert.equal(fresh.hits, 0);
  // every step ran; each COPY made its layer beside the tree (the tree was not unpacked): the COPY --from then
  // reads deps' tree, whose two layers are unpacked for it
  assert.deepEqual(fresh.unpacks, [2], 'only the stage that COPY --from reads is unpacked');
  assert.equal(fresh.image.descriptor.digest, first.image.descriptor.digest);
});

test('COPY --from=IMAGE is keyed by the image: cached unpacks nothing, another image runs the copy', async () => {
  const ctx = join(work, 'image');
  write(ctx, { 'deps/a.js': 'a\n', 'more/c.js': 'c\n', 'src/index.js': '1\n' });
  const source = await build(buildInput('FROM scratch\nCOPY deps/ /out/\n', ctx));
  const other = await build(buildInput('FROM scratch\nCOPY more/ /out/\n', ctx));
  const df = 'FROM scratch\nCOPY --from=example.com/lib:1 /out /lib\nCOPY src/ /src/\n';
  const cache = join(work, 'image-cache');
  const using = (a: Artifact) => ({ openImage: () => Promise.resolve(a) });
  const first = await traced(df, ctx, cache, using(source));
  assert.deepEqual(first.unpacks, [1]);
  const again = await traced(df, ctx, cache, using(source));
  assert.deepEqual(again.unpacks, [], 'a cached COPY --from of an image unpacks nothing');
  assert.equal(again.image.descriptor.digest, first.image.descriptor.digest);
  const changed = await traced(df, ctx, cache, using(other));
  assert.equal(changed.hits, 0);
  assert.notEqual(changed.image.descriptor.digest, first.image.descriptor.digest);
});

test('RUN --mount=type=bind,from=stage: a hit unpacks nothing, a change runs it', { skip: buildSkip }, async () => {
  const ctx = join(work, 'bind');
  const cache = join(work, 'bind-cache');
  mkdirSync(join(ctx, 'root/bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(ctx, 'root/bin/busybox'));
  symlinkSync('busybox', join(ctx, 'root/bin/sh'));
  write(ctx, { 'deps/a.js': 'a\n' });
  const df = [
    'FROM scratch AS deps',
    'COPY deps/ /out/',
    'FROM scratch',
    'COPY root/ /',
    'RUN --mount=type=bind,from=deps,source=/out,target=/mnt /bin/busybox cat /mnt/a.js > /copied',
  ].join('\n');
  const first = await traced(df, ctx, cache);
  const again = await traced(df, ctx, cache);
  assert.deepEqual(again.unpacks, []);
  assert.equal(again.image.descriptor.digest, first.image.descriptor.digest);
  write(ctx, { 'deps/a.js': 'a, changed\n' });
  const warm = await traced(df, ctx, cache);
  assert.equal(warm.hits, 1, 'only COPY root/ was cached: the RUN ran with the changed stage');
  const cold = await traced(df, ctx, undefined);
  assert.equal(warm.image.descriptor.digest, cold.image.descriptor.digest);
  assert.notEqual(warm.image.descriptor.digest, first.image.descriptor.digest);
});

test('without SOURCE_DATE_EPOCH a stage FROM another stage is cached too (its chain is not the manifest)', async () => {
  const ctx = join(work, 'from-stage');
  const cache = join(work, 'from-stage-cache');
  write(ctx, { 'a.txt': 'a\n' });
  const df = 'FROM scratch AS one\nCOPY a.txt /a\nFROM one\nCOPY a.txt /b\n';
  const now = { epoch: undefined } as Partial<BuildInput>; // created: the time of the build
  const first = await traced(df, ctx, cache, now);
  assert.equal(first.hits, 0);
  await new Promise((r) => setTimeout(r, 5)); // another `created` for the first stage's image
  const again = await traced(df, ctx, cache, now);
  assert.equal(again.hits, 2, 'both COPY steps were cache hits');
  assert.deepEqual(layerDigests(again.image), layerDigests(first.image));
});
