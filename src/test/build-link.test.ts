/**
 * `kura build`, COPY --link: the copied files are a layer of their own, made without the layers below, so its digest
 * and its cache entry stay the same when the base changes (and a COPY without --link follows the base's symlinks).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { buildSkip, layoutBlob, layoutTop, makeBase, writeContext } from './build-kit.js';
import { kuraOk, runKura } from './helpers.js';
import { tempDirs } from './tempdirs.js';

const dirs = tempDirs('kura-build-link-');
let env: NodeJS.ProcessEnv;

describe('kura build: COPY --link', { skip: buildSkip }, () => {
  before(async () => {
    const work = dirs();
    env = { ...process.env, KURA_STORE: join(work, 'store') };
    makeBase(work);
    await kuraOk(['import', join(work, 'base.tar'), 'busybox:test'], { env });
    // a second base where /opt is a symlink: a COPY without --link into /opt lands in /srv
    const other = writeContext(dirs(), { Dockerfile: 'FROM busybox:test\nRUN mkdir /srv && ln -s /srv /opt\n' });
    await kuraOk(['build', '-q', '-t', 'busybox:other', other], { env });
  });

  /** Builds `dockerfile` on BASE=`base` into an OCI layout; returns the last layer's digest, the file list, stderr. */
  async function build(ctx: string, base: string, extra: string[] = []) {
    const out = join(dirs(), 'out');
    const r = await kuraOk(['build', '--build-arg', `BASE=${base}`, '-o', `oci:${out}:t`, ...extra, ctx], { env });
    const m = layoutBlob<{ layers: { digest: string }[] }>(out, layoutTop(out, 't').digest);
    const last = m.layers.at(-1)!.digest;
    const list = spawnSync('tar', ['-tvzf', join(out, 'blobs', ...last.split(':'))], { encoding: 'utf8' }).stdout;
    return { last, list, stderr: r.stderr };
  }

  const files = { 'src/a.txt': 'a\n', 'src/sub/b.txt': 'b\n' };
  const dockerfile = (flags: string) => `ARG BASE\nFROM \${BASE}\nCOPY ${flags} src /opt/app/\n`;

  test('the --link layer is the same on another base; without --link the base changes it', async () => {
    const reproducible = { ...env, SOURCE_DATE_EPOCH: '1700000000' };
    const run = async (ctx: string, base: string) => {
      const out = join(dirs(), 'out');
      const args = ['build', '--no-cache', '--build-arg', `BASE=${base}`, '-o', `oci:${out}:t`, ctx];
      await kuraOk(args, { env: reproducible });
      return layoutBlob<{ layers: { digest: string }[] }>(out, layoutTop(out, 't').digest).layers.at(-1)!.digest;
    };
    const linked = writeContext(dirs(), { Dockerfile: dockerfile('--link --chown=7:8'), ...files });
    assert.equal(await run(linked, 'busybox:test'), await run(linked, 'busybox:other'), 'the --link layer digest');
    const plain = writeContext(dirs(), { Dockerfile: dockerfile('--chown=7:8'), ...files });
    assert.notEqual(await run(plain, 'busybox:test'), await run(plain, 'busybox:other'), 'through the symlink');
  });

  test('the layer holds its parents and files with numeric owners; the cache reuses it on another base', async () => {
    const ctx = writeContext(dirs(), { Dockerfile: dockerfile('--link --chown=7:8'), ...files });
    const first = await build(ctx, 'busybox:test');
    assert.match(first.list, /^drwxr-xr-x 7\/8 .* opt\/$/m, 'the parent, made on an empty base (with --chown)');
    assert.match(first.list, /^-rw-r--r-- 7\/8 .* opt\/app\/sub\/b\.txt$/m);
    assert.doesNotMatch(first.list, /srv/);
    const second = await build(ctx, 'busybox:other');
    assert.match(second.stderr, /STEP 1\/1: COPY --link --chown=7:8 src \/opt\/app\/\n--> Using cache\n/);
    assert.equal(second.last, first.last, 'the cached layer, byte for byte');
    // on the other base the layer's /opt directory replaces the symlink, as when the layer is pulled
    const run = writeContext(dirs(), {
      Dockerfile: `${dockerfile('--link')}RUN test -d /opt -a ! -L /opt && cat /opt/app/a.txt\n`,
      ...files,
    });
    assert.match((await build(run, 'busybox:other')).stderr, /STEP 2\/2 \| a\n/);
  });

  test('--link --chown takes numeric ids only: a name is an error naming the fix', async () => {
    const ctx = writeContext(dirs(), { Dockerfile: dockerfile('--link --chown=app'), ...files });
    const r = await runKura(['build', '--build-arg', 'BASE=busybox:test', ctx], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^kura: error: Dockerfile:3:1: COPY --link --chown=app: .* use numeric ids/m);
  });
});
