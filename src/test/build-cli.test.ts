/**
 * `kura build` end to end: a busybox base image made offline (Debian's busybox-static), Dockerfiles built by kura
 * and by buildah (Debian's) and their filesystems and configs compared; reproducible digests, the layer cache,
 * a failing RUN, secrets and cache mounts, heredocs, Dockerfile errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import tar from 'tar-stream';
import { kuraOk, runKura } from './helpers.js';
import { tempDirs } from './tempdirs.js';
import { buildSkip as skip, has, makeBase, writeContext } from './build-kit.js';

const dirs = tempDirs('kura-build-test-');

let work: string;
let env: NodeJS.ProcessEnv;
let base: string;

interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  content: string;
}

/** The flattened filesystem of an image (kura export), path → type, mode, owner, content digest or link. */
async function filesystem(location: string): Promise<Map<string, Entry>> {
  const file = join(dirs(), 'flat.tar');
  await kuraOk(['export', location, '-o', file], { env });
  const out = new Map<string, Entry>();
  const ex = tar.extract();
  createReadStream(file).pipe(ex);
  for await (const e of ex) {
    const h = createHash('sha256');
    for await (const c of e) h.update(c as Buffer);
    const { name, type, mode, uid, gid, linkname } = e.header;
    out.set(name.replace(/^\.\//, '').replace(/\/$/, ''), {
      type: type!,
      mode: mode! & 0o7777,
      uid: uid!,
      gid: gid!,
      content: linkname ?? (type === 'file' ? h.digest('hex') : ''),
    });
  }
  out.delete('');
  out.delete('.');
  return out;
}

async function config(location: string): Promise<Record<string, unknown>> {
  const c = JSON.parse((await kuraOk(['config', location], { env })).stdout) as { config: Record<string, unknown> };
  return c.config;
}

const context = (files: Record<string, string>) => writeContext(dirs(), files);

/** Absent, null and {} are the same config value. */
const norm = (v: unknown) => (v === undefined || (v && typeof v === 'object' && !Object.keys(v).length) ? null : v);

const build = (ctx: string, ...args: string[]) => kuraOk(['build', '-q', ...args, ctx], { env });

describe('kura build', { skip }, () => {
  const layout = join(tmpdir(), `kura-build-layout-${process.pid}`);
  after(() => rmSync(layout, { recursive: true, force: true }));
  before(async () => {
    work = dirs();
    env = { ...process.env, KURA_STORE: join(work, 'store') };
    makeBase(work);
    await kuraOk(['import', join(work, 'base.tar'), 'busybox:test'], { env });
    // buildah reads oci: paths as lower-case names
    base = `oci:${layout}:base`;
    await kuraOk(['copy', 'local:busybox:test', base], { env });
  });

  // Dockerfiles buildah 1.28 (Debian 12) reads too: no heredocs there.
  const matrix: Record<string, Record<string, string>> = {
    'config instructions, COPY forms, RUN creating, changing and deleting files': {
      Dockerfile: [
        'ARG BASE',
        'FROM ${BASE} AS base',
        'ENV GREETING="hello world" \\',
        '    OTHER=x',
        'WORKDIR /app',
        'COPY src/ ./',
        'COPY --chown=app:app --chmod=640 src/a.txt /home/app/',
        'COPY src/*.txt /globbed/',
        'RUN echo "$GREETING" > /app/greeting && rm /etc/old && mkdir -p /var/x && touch /var/x/y \\',
        '    && chmod 600 /app/a.txt',
        'FROM base',
        'ARG V=1',
        'LABEL version=$V other="two words"',
        'USER app',
        'EXPOSE 8080 53/udp',
        'VOLUME /data',
        'STOPSIGNAL SIGTERM',
        'ENTRYPOINT ["/bin/sh"]',
        'CMD ["-c", "cat /app/greeting"]',
      ].join('\n'),
      'src/a.txt': 'a\n',
      'src/b.txt': 'b\n',
      'src/sub/c': 'c\n',
    },
    '.dockerignore edge cases, COPY --from a stage, ADD of a local tar': {
      Dockerfile: [
        'ARG BASE',
        'FROM ${BASE} AS files',
        'RUN mkdir -p /out && echo made > /out/made && ln -s made /out/link',
        'FROM ${BASE}',
        'COPY . /ctx/',
        'COPY --from=files /out /from-stage',
        'ADD layer.tar /unpacked/',
        'WORKDIR rel/dir',
        'RUN echo "$PWD" > where',
        'CMD echo shell form',
      ].join('\n'),
      '.dockerignore': '*\n!keep\n!src\nsrc/**/*.log\n!src/important.log\n/src/tmp/\n!Dockerfile\n!layer.tar\n',
      keep: 'kept\n',
      dropped: 'dropped\n',
      'src/a/b.md': 'md\n',
      'src/a/x.log': 'log\n',
      'src/important.log': 'important\n',
      'src/tmp/t': 'tmp\n',
    },
  };

  for (const [name, files] of Object.entries(matrix))
    test(
      `the same filesystem and config as buildah: ${name}`,
      { skip: has('buildah') ? false : 'needs buildah' },
      async () => {
        const ctx = context(files);
        if (files['.dockerignore']) {
          const t = context({ 'x/inside.txt': 'inside\n' });
          assert.equal(spawnSync('tar', ['-C', t, '-cf', join(ctx, 'layer.tar'), 'x']).status, 0);
        }
        await build(ctx, '-t', 'kura-built:1', '--build-arg', `BASE=${base}`);
        const b = ['--root', join(work, 'bs'), '--runroot', join(work, 'br'), '--storage-driver', 'vfs'];
        const r = spawnSync(
          'buildah',
          [
            ...b,
            'build',
            '-q',
            '--isolation',
            'chroot',
            '--format',
            'docker',
            '--build-arg',
            `BASE=${base}`,
            '-t',
            'bimg',
            ctx,
          ],
          { encoding: 'utf8' },
        );
        assert.equal(r.status, 0, r.stderr);
        const out = `oci:${layout}:${createHash('sha1').update(name).digest('hex').slice(0, 8)}`;
        assert.equal(spawnSync('buildah', [...b, 'push', 'bimg', out]).status, 0);
        const [theirs, ours] = [await filesystem(out), await filesystem('kura-built:1')];
        // buildah leaves the mount points of its RUN containers in the image; BuildKit and kura do not
        for (const p of ['dev', 'proc', 'sys', 'run', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf'])
          if (!ours.has(p)) theirs.delete(p);
        assert.deepEqual(Object.fromEntries([...ours].sort()), Object.fromEntries([...theirs].sort()));
        const [tc, oc] = [await config(out), await config('kura-built:1')];
        delete (tc.Labels as Record<string, string> | undefined)?.['io.buildah.version'];
        for (const k of [
          'Env',
          'Entrypoint',
          'Cmd',
          'WorkingDir',
          'User',
          'ExposedPorts',
          'Labels',
          'Volumes',
          'StopSignal',
        ])
          assert.deepEqual(norm(oc[k]), norm(tc[k]), `config ${k}`);
      },
    );

  test('heredocs in RUN and COPY; ARG, ENV and ONBUILD in the config', async () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox:test',
        'ARG WHO=world',
        'ENV WHO=$WHO',
        'RUN <<EOF',
        'echo "hello $WHO" > /hello',
        'EOF',
        'COPY <<EOT /doc.txt',
        'doc for ${WHO}',
        'EOT',
        'ONBUILD RUN echo child',
        'HEALTHCHECK --interval=5s CMD cat /hello',
      ].join('\n'),
    });
    await build(ctx, '-t', 'heredoc:1', '--build-arg', 'WHO=kura');
    const fs = await filesystem('heredoc:1');
    assert.equal(fs.get('hello')!.content, createHash('sha256').update('hello kura\n').digest('hex'));
    assert.equal(fs.get('doc.txt')!.content, createHash('sha256').update('doc for kura\n').digest('hex'));
    const c = await config('heredoc:1');
    assert.deepEqual(c.OnBuild, ['RUN echo child']);
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'cat /hello'], Interval: 5e9 });
  });

  test('an exception inside an excluded directory is copied, as Docker decides (buildah 1.28 drops it)', async () => {
    const ctx = context({
      Dockerfile: 'FROM busybox:test\nCOPY . /ctx/\n',
      '.dockerignore': '*\n!docs/**/*.md\ndocs/secret.md\n',
      'docs/a/b.md': 'md\n',
      'docs/a/x.log': 'log\n',
      'docs/secret.md': 'secret\n',
      other: 'other\n',
    });
    await build(ctx, '-t', 'ignored:1');
    const paths = [...(await filesystem('ignored:1')).keys()].filter((p) => p.startsWith('ctx'));
    assert.deepEqual(paths.sort(), ['ctx', 'ctx/docs', 'ctx/docs/a', 'ctx/docs/a/b.md']);
  });

  test('two builds with SOURCE_DATE_EPOCH give the same digest', async () => {
    const ctx = context({ Dockerfile: 'FROM busybox:test\nCOPY a /a\nRUN echo made > /made\nENV X=1\n', a: 'a\n' });
    const repro = { ...env, SOURCE_DATE_EPOCH: '1700000000' };
    const one = await kuraOk(['build', '-q', '--no-cache', ctx], { env: repro });
    const two = await kuraOk(['build', '-q', '--no-cache', ctx], { env: repro });
    assert.match(one.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(one.stdout, two.stdout);
    const plain = await kuraOk(['build', '-q', '--no-cache', ctx], { env });
    assert.notEqual(plain.stdout, one.stdout, 'without an epoch the times differ');
  });

  test('a rebuild with one changed file reuses every earlier layer (the RUN is not run again)', async () => {
    const ctx = context({
      Dockerfile: 'FROM busybox:test\nCOPY a /a\nRUN date +%s%N > /stamp\nCOPY b /b\n',
      a: 'a\n',
      b: 'b1\n',
    });
    const layers = async (name: string) =>
      (JSON.parse((await kuraOk(['inspect', name], { env })).stdout) as { RootFS: { Layers: string[] } }[])[0]!.RootFS
        .Layers;
    await kuraOk(['build', '-t', 'cached:1', ctx], { env });
    writeFileSync(join(ctx, 'b'), 'b2\n');
    const again = await kuraOk(['build', '-t', 'cached:2', ctx], { env });
    assert.match(again.stderr, /STEP 2\/3: RUN[^\n]*\n--> Using cache/);
    const [l1, l2] = [await layers('cached:1'), await layers('cached:2')];
    assert.equal(l2.length, 4);
    assert.deepEqual(l2.slice(0, -1), l1.slice(0, -1), 'the base, COPY a and RUN layers are the same blobs');
    assert.notEqual(l2.at(-1), l1.at(-1));
    const fresh = await kuraOk(['build', '--no-cache', '-t', 'cached:3', ctx], { env });
    assert.doesNotMatch(fresh.stderr, /Using cache/);
    assert.notEqual((await layers('cached:3'))[2], l1[2], '--no-cache runs the RUN again');
  });

  test('RUN output is one stream in order, live with the step tag; a failing RUN shows its last lines', async () => {
    const lines = ['a', 'b >&2', 'c', 'd >&2', 'e >&2', 'f'].map((l) => `echo ${l}`).join('; ');
    const ok = context({ Dockerfile: `FROM busybox:test\nRUN ${lines}\n` });
    const good = await kuraOk(['build', '--no-cache', ok], { env });
    const shown = good.stderr.split('\n').filter((l) => l.startsWith('[1/1] STEP 1/1 | '));
    assert.deepEqual(
      shown.map((l) => l.slice(-1)),
      ['a', 'b', 'c', 'd', 'e', 'f'],
      'stdout and stderr interleaved as written',
    );
    const ctx = context({
      Dockerfile: 'FROM busybox:test\nRUN echo first-line; echo last-words >&2; echo end; exit 3\n',
    });
    const r = await runKura(['build', '-t', 'failed:1', ctx], { env });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /\n {2}first-line\n {2}last-words\n {2}end\n/,
      'the last lines of output, in order, before the error',
    );
    assert.match(r.stderr, /\nkura: error: Dockerfile:2:1: RUN echo first-line; .* failed with exit code 3/);
    assert.doesNotMatch((await kuraOk(['images'], { env })).stdout, /failed/);
  });

  test('secrets and cache mounts are readable by RUN and never in a layer or the history', async () => {
    const dir = dirs();
    writeFileSync(join(dir, 'token'), 'TOP-SECRET-VALUE\n');
    const ctx = context({
      Dockerfile: [
        'FROM busybox:test',
        'RUN --mount=type=secret,id=tok --mount=type=cache,target=/cache \\',
        '    cat /run/secrets/tok > /cache/copy && test -s /cache/copy && echo ok > /ran',
      ].join('\n'),
    });
    const r = await build(ctx, '-t', 'secret:1', '--secret', `id=tok,src=${join(dir, 'token')}`);
    const fs = await filesystem('secret:1');
    assert.ok(fs.has('ran'));
    assert.ok(!fs.has('cache') && !fs.has('run/secrets/tok') && !fs.has('run'), [...fs.keys()].join(' '));
    const save = join(dirs(), 'img.tar');
    await kuraOk(['save', 'secret:1', '-o', save], { env });
    const all = spawnSync('sh', ['-c', `tar -xOf ${save} | zcat -f | grep -c TOP-SECRET || true`], {
      encoding: 'utf8',
    });
    assert.equal(all.stdout.trim(), '0', 'the secret is in no blob');
    assert.ok(r.stdout.startsWith('sha256:'));
  });

  test('errors: a Dockerfile error names file:line:column; a missing secret; an unknown target', async () => {
    const bad = context({ Dockerfile: 'FROM busybox:test\nCOPY --form=x a b\n' });
    let r = await runKura(['build', bad], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^kura: error: Dockerfile:2:6: unknown flag --form for COPY/m);
    const secret = context({ Dockerfile: 'FROM busybox:test\nRUN --mount=type=secret,id=x,required=true true\n' });
    r = await runKura(['build', secret], { env });
    assert.match(
      r.stderr,
      /kura: error: Dockerfile:2:1: RUN: secret x is required but was not given: pass --secret id=x/,
    );
    r = await runKura(['build', '--target', 'nope', secret], { env });
    assert.match(r.stderr, /kura: error: target stage "nope" could not be found/);
    r = await runKura(['build', join(work, 'no-such-dir')], { env });
    assert.match(r.stderr, /kura: error: the build context .* is not a directory/);
  });
});
