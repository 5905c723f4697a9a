// kura build against buildah (Debian's) on one app-shaped Dockerfile: a cold build, then a warm one after one source
// file changed. Needs root, runc, buildah and /bin/busybox (busybox-static). Usage: node bench/build.mjs [FILES]
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kuraMain } from './lib/kura.mjs';

const files = Number(process.argv[2] ?? 2000);
const kura = kuraMain();
const work = mkdtempSync(join(tmpdir(), 'kura-bench-build-'));
const env = { ...process.env, KURA_STORE: join(work, 'store') };
const run = (cmd, args) => {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
};
try {
  const root = join(work, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const c of ['sh', 'cp', 'mkdir', 'cat', 'ls']) symlinkSync('busybox', join(root, 'bin', c));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  run('tar', ['-C', root, '-cf', join(work, 'base.tar'), '.']);
  run('node', [kura, 'import', join(work, 'base.tar'), 'bench-base:1']);
  const layout = join(tmpdir(), `kura-bench-layout-${process.pid}`);
  run('node', [kura, 'copy', 'local:bench-base:1', `oci:${layout}:base`]);
  // the "dependency cache" (like an offline npm cache) and the app's sources
  const ctx = join(work, 'ctx');
  for (let i = 0; i < files; i++) {
    const dir = join(ctx, 'cache', `pkg${i % 100}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.js`), `module.exports = ${i};\n`.repeat(20));
  }
  mkdirSync(join(ctx, 'src'), { recursive: true });
  writeFileSync(join(ctx, 'package.json'), '{"name":"app"}\n');
  writeFileSync(join(ctx, 'src/index.js'), 'console.log(1);\n');
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'ARG BASE',
      'FROM ${BASE}',
      'WORKDIR /app',
      'COPY package.json ./',
      'COPY cache /cache',
      'RUN mkdir -p node_modules && cp -r /cache/* node_modules/',
      'COPY src ./src',
      'CMD ["cat", "/app/src/index.js"]',
    ].join('\n'),
  );
  const b = ['--root', join(work, 'bs'), '--runroot', join(work, 'br'), '--storage-driver', 'vfs'];
  const buildah = () =>
    run('buildah', [
      ...b,
      'build',
      '-q',
      '--layers',
      '--isolation',
      'chroot',
      '--build-arg',
      `BASE=oci:${layout}:base`,
      ctx,
    ]);
  const kuraBuild = () => run('node', [kura, 'build', '-q', '--build-arg', `BASE=oci:${layout}:base`, ctx]);
  const rows = [];
  rows.push(['kura cold', kuraBuild()], ['buildah cold', buildah()]);
  writeFileSync(join(ctx, 'src/index.js'), 'console.log(2);\n');
  rows.push(['kura warm (one source file changed)', kuraBuild()], ['buildah warm', buildah()]);
  console.log(`${files} dependency files, ${process.arch}, node ${process.version}`);
  for (const [what, ms] of rows) console.log(`${what.padEnd(40)} ${(ms / 1000).toFixed(2)} s`);
  rmSync(layout, { recursive: true, force: true });
} finally {
  rmSync(work, { recursive: true, force: true });
}
