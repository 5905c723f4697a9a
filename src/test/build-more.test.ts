/**
 * `kura build`, the wider flags: several --platform values making an index (compared with buildah's --platform
 * builds), --cache-to/--cache-from (a registry and a local directory), COPY --link/--parents, the RUN output stream.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildSkip, has, layoutBlob, layoutConfig, layoutTop, makeBase, writeContext } from './build-kit.js';
import { kuraOk, runKura } from './helpers.js';
import { startTestServer, type TestServer } from './testkit.js';
import { tempDirs } from './tempdirs.js';

const dirs = tempDirs('kura-build-more-');
let env: NodeJS.ProcessEnv;
let store: string;
const context = (files: Record<string, string>) => writeContext(dirs(), files);

describe('kura build: platforms, cache export and import, COPY --link/--parents', { skip: buildSkip }, () => {
  let server: TestServer;
  let host: string;
  before(async () => {
    const work = dirs();
    store = join(work, 'store');
    env = { ...process.env, KURA_STORE: store };
    makeBase(work);
    await kuraOk(['import', join(work, 'base.tar'), 'busybox:test'], { env });
    server = await startTestServer();
    host = new URL(server.url).host;
  });
  after(() => server?.close());

  test(
    'two --platform values give an index whose children match buildah --platform builds',
    { skip: has('buildah') ? false : 'needs buildah' },
    async () => {
      const ctx = context({
        Dockerfile: [
          'FROM scratch',
          'ARG TARGETARCH',
          'COPY a /a',
          'ENV ARCH=$TARGETARCH',
          'LABEL kind=multi',
          'WORKDIR /w',
          'CMD ["/a"]',
        ].join('\n'),
        a: 'a\n',
      });
      const out = dirs();
      const r = await kuraOk(['build', '-q', '--platform', 'linux/amd64,linux/arm64', '-o', `oci:${out}:multi`, ctx], {
        env,
      });
      const top = layoutTop(out, 'multi');
      assert.equal(r.stdout.trim(), top.digest);
      assert.equal(top.mediaType, 'application/vnd.oci.image.index.v1+json');
      const children = layoutBlob<{ manifests: { digest: string; platform: { architecture: string } }[] }>(
        out,
        top.digest,
      ).manifests;
      assert.deepEqual(
        children.map((c) => c.platform.architecture),
        ['amd64', 'arm64'],
      );
      const b = ['--root', join(out, 'bs'), '--runroot', join(out, 'br'), '--storage-driver', 'vfs'];
      for (const [i, arch] of ['amd64', 'arm64'].entries()) {
        const bl = dirs();
        const args = [...b, 'build', '-q', '--isolation', 'chroot', '--platform', `linux/${arch}`, '-t', arch, ctx];
        const br = spawnSync('buildah', args, { encoding: 'utf8' });
        assert.equal(br.status, 0, br.stderr);
        assert.equal(spawnSync('buildah', [...b, 'push', arch, `oci:${bl}:${arch}`]).status, 0);
        const theirs = layoutConfig(bl, layoutTop(bl, arch).digest) as { config: Record<string, unknown> } & Record<
          string,
          unknown
        >;
        const ours = layoutConfig(out, children[i]!.digest) as { config: Record<string, unknown> } & Record<
          string,
          unknown
        >;
        for (const k of ['os', 'architecture']) assert.equal(ours[k], theirs[k], k);
        delete (theirs.config.Labels as Record<string, string>)['io.buildah.version'];
        for (const k of ['Env', 'Cmd', 'WorkingDir', 'Labels'])
          assert.deepEqual(ours.config[k], theirs.config[k], `${arch} config ${k}`);
      }
      // a RUN for a foreign platform needs emulation: one error line naming the fix
      const run = context({ Dockerfile: 'FROM scratch\nRUN true\n' });
      if (!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) {
        const f = await runKura(['build', '--platform', 'linux/arm64', run], { env });
        assert.equal(f.code, 1);
        assert.match(f.stderr, /kura: error: Dockerfile:2:1: RUN .*no binfmt_misc handler.*install qemu-user-static/);
      }
      rmSync(join(out, 'bs'), { recursive: true, force: true });
    },
  );

  test('--cache-from a registry (or local directory) filled by --cache-to reuses every layer', async () => {
    const secret = join(dirs(), 'phase');
    const ctx = context({
      // the RUN fails unless the secret says "first": only the first build may run it (a secret is not in the key)
      Dockerfile: [
        'FROM busybox:test',
        'COPY a /a',
        'RUN --mount=type=secret,id=phase test "$(cat /run/secrets/phase)" = first && echo ran > /ran',
        'COPY b /b',
      ].join('\n'),
      a: 'a\n',
      b: 'b\n',
    });
    const ref = `${host}/cache/app:buildcache`;
    const local = dirs();
    writeFileSync(secret, 'first');
    const repro = { ...env, SOURCE_DATE_EPOCH: '1700000000' };
    const one = await kuraOk(
      [
        'build',
        '-q',
        '--secret',
        `id=phase,src=${secret}`,
        '-t',
        'cached-app:1',
        '--cache-to',
        `type=registry,ref=${ref}`,
        '--cache-to',
        `type=local,dest=${local}`,
        ctx,
      ],
      { env: repro },
    );
    writeFileSync(secret, 'second');
    for (const from of [`type=registry,ref=${ref}`, `type=local,src=${local}`]) {
      rmSync(join(store, 'build-cache'), { recursive: true, force: true });
      const r = await kuraOk(
        ['build', '--secret', `id=phase,src=${secret}`, '-t', 'cached-app:2', '--cache-from', from, ctx],
        { env: repro },
      );
      assert.match(r.stderr, /imported 3 cached layers/);
      assert.equal((r.stderr.match(/--> Using cache/g) ?? []).length, 3, r.stderr);
      assert.equal(r.stdout, one.stdout, `${from}: the same image, every layer reused`);
    }
    // without the cache the RUN runs, and fails: the test above could fail
    rmSync(join(store, 'build-cache'), { recursive: true, force: true });
    const cold = await runKura(['build', '--secret', `id=phase,src=${secret}`, ctx], { env });
    assert.equal(cold.code, 1);
    const bad = await runKura(['build', '--cache-to', 'type=gha', ctx], { env });
    assert.match(bad.stderr, /kura: error: --cache-to type=gha is not supported: use type=registry,ref=REF/);
  });

  test('--sbom, --sign --key and --scan on the pushed image: a verified signature, an SBOM referrer', async () => {
    const d = dirs();
    mkdirSync(join(d, 'osv'));
    const henv = { ...env, KURA_PASSWORD: 'pw', KURA_DB_DIR: join(d, 'db') };
    await kuraOk(['db', 'import', join(d, 'osv')], { env: henv });
    await kuraOk(['key', 'generate', '--output-key-prefix', join(d, 'cosign')], { env: henv });
    const ctx = context({ Dockerfile: 'FROM busybox:test\nCOPY a /a\n', a: 'a\n' });
    const ref = `${host}/hooks/app:1`;
    const key = join(d, 'cosign.key');
    const r = await kuraOk(['build', '-q', '-t', ref, '--push', '--sbom', '--sign', '--key', key, '--scan', ctx], {
      env: henv,
    });
    const digest = r.stdout.trim();
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    await kuraOk(['verify', '--key', join(d, 'cosign.pub'), ref], { env: henv });
    const referrers = (await (await fetch(`http://${host}/v2/hooks/app/referrers/${digest}`)).json()) as {
      manifests: { artifactType: string }[];
    };
    assert.deepEqual(
      referrers.manifests.map((m) => m.artifactType),
      ['application/spdx+json'],
    );
    assert.match(r.stderr, /\nTotal: 0 \(CRITICAL: 0.*packages scanned\n/, 'the scan report, on stderr');
    const bad = await runKura(['build', '--sign', '--key', key, ctx], { env: henv });
    assert.match(bad.stderr, /^kura: error: --sbom, --sign and --scan act on the pushed image: add --push/m);
  });

  test('COPY --parents keeps the source paths (after a /./ pivot) under the destination', async () => {
    const ctx = context({
      Dockerfile: 'FROM busybox:test\nCOPY --parents x/a.txt y/*.txt /dest/\nCOPY --parents ./x/./sub /piv/\n',
      'x/a.txt': 'a\n',
      'x/sub/b.txt': 'b\n',
      'y/c.txt': 'c\n',
      'y/d.md': 'd\n',
    });
    await kuraOk(['build', '-q', '-t', 'parents:1', ctx], { env });
    const flat = join(dirs(), 'flat.tar');
    await kuraOk(['export', 'parents:1', '-o', flat], { env });
    const list = spawnSync('tar', ['-tf', flat], { encoding: 'utf8' })
      .stdout.split('\n')
      .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))
      .filter((p) => /^(dest|piv)/.test(p));
    assert.deepEqual(list.sort(), [
      'dest',
      'dest/x',
      'dest/x/a.txt',
      'dest/y',
      'dest/y/c.txt',
      'piv',
      'piv/sub',
      'piv/sub/b.txt',
    ]);
  });
});
