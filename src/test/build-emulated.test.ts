/**
 * `kura build`, RUN for a foreign platform: without an emulator the error says so and names the fix; with
 * qemu-user-static registered in binfmt_misc, RUN runs an arm64 busybox emulated (several --platform: an index).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BUSYBOX, buildSkip, layoutBlob, layoutTop, writeContext } from './build-kit.js';
import { kuraOk, runKura } from './helpers.js';
import { tempDirs } from './tempdirs.js';

const dirs = tempDirs('kura-build-emulated-');
const foreign = process.arch === 'x64' ? 'arm64' : 'amd64';
const qemu = foreign === 'arm64' ? 'qemu-aarch64' : 'qemu-x86_64';

/** Why the emulated build cannot be tried here, or false. .ci/run sets KURA_TEST_ARM64_BUSYBOX and registers qemu. */
function emulatedSkip(): string | false {
  if (process.arch !== 'x64') return 'the emulated RUN test builds arm64 on an amd64 machine';
  const bb = process.env.KURA_TEST_ARM64_BUSYBOX;
  if (!bb || !existsSync(bb))
    return 'set KURA_TEST_ARM64_BUSYBOX to an arm64 busybox (dpkg-deb -x of busybox-static:arm64), as .ci/run does';
  const handler = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
  if (!existsSync(handler) || !/^flags:.*F/m.test(readFileSync(handler, 'utf8')))
    return 'needs qemu-user-static registered in binfmt_misc (apt-get install qemu-user-static binfmt-support)';
  return false;
}

describe('kura build: RUN for a foreign platform', { skip: buildSkip }, () => {
  test('without an emulator the error says which is missing and how to fix it', async () => {
    const ctx = writeContext(dirs(), { Dockerfile: 'FROM scratch\nRUN true\n' });
    const binfmt = dirs();
    const build = async () => {
      const env = { ...process.env, KURA_STORE: join(dirs(), 'store'), KURA_BINFMT_MISC: binfmt };
      const r = await runKura(['build', '--platform', `linux/${foreign}`, ctx], { env });
      assert.equal(r.code, 1, r.stderr);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('kura: error: '));
      assert.equal(errors.length, 1, r.stderr);
      const prefix = `kura: error: Dockerfile:2:1: RUN cannot run ${foreign} programs on this`;
      assert.ok(errors[0]!.startsWith(prefix), errors[0]);
      assert.match(errors[0]!, new RegExp(`or build on a native linux/${foreign} runner`));
      return errors[0]!;
    };
    assert.match(await build(), /binfmt_misc is not mounted at .*mount -t binfmt_misc binfmt_misc/);
    writeFileSync(join(binfmt, 'status'), 'enabled\n');
    assert.match(
      await build(),
      new RegExp(
        `no emulator is registered for ${foreign} \\(no binfmt_misc handler ${qemu}\\); install ` +
          'qemu-user-static and binfmt-support \\(apt-get install qemu-user-static binfmt-support\\)',
      ),
    );
    writeFileSync(join(binfmt, qemu), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/x\nflags: P\n');
    assert.match(await build(), /lacks the F \(fix-binary\) flag/);
    writeFileSync(join(binfmt, qemu), 'disabled\ninterpreter /usr/libexec/qemu-binfmt/x\nflags: PF\n');
    assert.match(await build(), new RegExp(`is disabled; enable it \\(update-binfmts --enable ${qemu}\\)`));
  });

  test(
    'with qemu-user-static registered, RUN runs arm64 programs: an index of amd64 and arm64',
    { skip: emulatedSkip() },
    async () => {
      const ctx = writeContext(dirs(), {
        Dockerfile: [
          'FROM scratch',
          'ARG TARGETARCH',
          'COPY busybox-${TARGETARCH} /bin/busybox',
          'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m | /bin/busybox tee /arch"]',
        ].join('\n'),
      });
      copyFileSync(BUSYBOX, join(ctx, 'busybox-amd64'));
      copyFileSync(process.env.KURA_TEST_ARM64_BUSYBOX!, join(ctx, 'busybox-arm64'));
      const out = join(dirs(), 'out');
      const env = { ...process.env, KURA_STORE: join(dirs(), 'store') };
      const r = await kuraOk(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `oci:${out}:t`, ctx], { env });
      assert.match(r.stderr, /\[linux\/arm64\][\s\S]*STEP 3\/3 \| aarch64\n/, 'the RUN ran emulated');
      const index = layoutBlob<{ manifests: { digest: string; platform: { architecture: string } }[] }>(
        out,
        layoutTop(out, 't').digest,
      );
      const arch = index.manifests.map((m) => {
        const layers = layoutBlob<{ layers: { digest: string }[] }>(out, m.digest).layers;
        const blob = join(out, 'blobs', ...layers.at(-1)!.digest.split(':'));
        const file = spawnSync('tar', ['-xzOf', blob, 'arch'], { encoding: 'utf8' }).stdout.trim();
        return [m.platform.architecture, file];
      });
      assert.deepEqual(arch, [
        ['amd64', 'x86_64'],
        ['arm64', 'aarch64'],
      ]);
    },
  );
});
