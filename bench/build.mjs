// kura build against buildah (Debian's `buildah build --layers`, vfs storage, chroot isolation) on the same Dockerfiles:
// an app-shaped one and a multi-stage one, each cold (empty cache), warm (one source file changed) and cached (nothing
// changed); a markdown table with the ratios. Needs root, runc, buildah and /bin/busybox (busybox-static).
// Usage: node bench/build.mjs [FILES] [RUNS]   (FILES: files in the copied dependency tree; RUNS: best of N)
// KURA_BENCH_BEFORE=PATH (another build's dist/bin/kura.js) adds a column for it, run in the same pass.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kuraMain } from './lib/kura.mjs';

const files = Number(process.argv[2] ?? 2000);
const runs = Number(process.argv[3] ?? 1);
const kura = kuraMain();
const before = process.env.KURA_BENCH_BEFORE;
const work = mkdtempSync(join(tmpdir(), 'kura-bench-build-'));
const run = (cmd, args, env = process.env) => {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
};

const DOCKERFILES = {
  app: [
    'ARG BASE',
    'FROM ${BASE}',
    'WORKDIR /app',
    'COPY package.json ./',
    'COPY cache /cache',
    'RUN mkdir -p node_modules && cp -r /cache/* node_modules/',
    'COPY src ./src',
    'CMD ["cat", "/app/src/index.js"]',
  ],
  'multi-stage': [
    'ARG BASE',
    'FROM ${BASE} AS deps',
    'WORKDIR /app',
    'COPY package.json ./',
    'COPY cache /cache',
    'RUN mkdir -p node_modules && cp -r /cache/* node_modules/ && rm -rf /cache',
    'FROM ${BASE}',
    'WORKDIR /app',
    'COPY --from=deps /app/node_modules ./node_modules',
    'COPY src ./src',
    'RUN cat src/*.js > bundle.js && ls node_modules > modules.txt',
    'CMD ["cat", "/app/bundle.js"]',
  ],
};

/** One Dockerfile: cold, warm (one source changed), cached (no change) with each builder, in fresh storage. */
function scenario(name, layout) {
  const ctx = join(work, `ctx-${name}`);
  for (let i = 0; i < files; i++) {
    const dir = join(ctx, 'cache', `pkg${i % 100}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.js`), `module.exports = ${i};\n`.repeat(20));
  }
  mkdirSync(join(ctx, 'src'), { recursive: true });
  writeFileSync(join(ctx, 'package.json'), '{"name":"app"}\n');
  for (let i = 0; i < 20; i++) writeFileSync(join(ctx, 'src', `m${i}.js`), `export const m${i} = ${i};\n`);
  writeFileSync(join(ctx, 'src/index.js'), 'console.log(1);\n');
  writeFileSync(join(ctx, 'Dockerfile'), `${DOCKERFILES[name].join('\n')}\n`);
  const best = (f) => Math.min(...Array.from({ length: runs }, f));
  const times = { kura: {}, buildah: {}, before: {} };
  const kuraBuild = (main) => (store) => () =>
    run('node', [main, 'build', '-q', '--build-arg', `BASE=oci:${layout}:base`, ctx], {
      ...process.env,
      KURA_STORE: store,
    });
  for (const [n, build] of [
    // KURA_BENCH_BEFORE_FIRST=1 runs the older build first (the one run second may meet the first's disk writeback)
    ...(before && process.env.KURA_BENCH_BEFORE_FIRST ? [['before', kuraBuild(before)]] : []),
    ['kura', kuraBuild(kura)],
    ...(before && !process.env.KURA_BENCH_BEFORE_FIRST ? [['before', kuraBuild(before)]] : []),
    [
      'buildah',
      (store) => {
        const b = ['--root', join(store, 'root'), '--runroot', join(store, 'run'), '--storage-driver', 'vfs'];
        const args = [
          'build',
          '-q',
          '--layers',
          '--isolation',
          'chroot',
          '--build-arg',
          `BASE=oci:${layout}:base`,
          ctx,
        ];
        return () => run('buildah', [...b, ...args]);
      },
    ],
  ]) {
    let change = 0;
    times[n].cold = best(() => {
      const store = join(work, `${n}-${name}-${Math.random().toString(36).slice(2)}`);
      const t = build(store)();
      times[n].store = store;
      return t;
    });
    const again = build(times[n].store);
    times[n].warm = best(() => {
      const offset = { kura: 0, buildah: 1000, before: 2000 }[n];
      writeFileSync(join(ctx, 'src/index.js'), `console.log(${++change + offset});\n`);
      return again();
    });
    times[n].cached = best(again);
  }
  return times;
}

try {
  const root = join(work, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const c of ['sh', 'cp', 'mkdir', 'cat', 'ls', 'rm']) symlinkSync('busybox', join(root, 'bin', c));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  run('tar', ['-C', root, '-cf', join(work, 'base.tar'), '.']);
  const env = { ...process.env, KURA_STORE: join(work, 'import-store') };
  run('node', [kura, 'import', join(work, 'base.tar'), 'bench-base:1'], env);
  // buildah reads `oci:` names as references too: the layout's path must be lowercase
  const layout = join(tmpdir(), `kura-bench-layout-${process.pid}`);
  run('node', [kura, 'copy', 'local:bench-base:1', `oci:${layout}:base`], env);
  console.log(
    `${files} files in the copied tree, best of ${runs}, ${process.arch}, node ${process.version}, ` +
      `${spawnSync('buildah', ['--version'], { encoding: 'utf8' }).stdout.trim()}\n`,
  );
  console.log(
    `| Dockerfile | build |${before ? ' kura before | before ÷ kura |' : ''} kura | buildah | buildah ÷ kura |`,
  );
  console.log(`|---|---|${before ? '---:|---:|' : ''}---:|---:|---:|`);
  for (const name of Object.keys(DOCKERFILES)) {
    const t = scenario(name, layout);
    for (const c of ['cold', 'warm', 'cached']) {
      const k = t.kura[c] / 1000;
      const b = t.buildah[c] / 1000;
      const what = { cold: 'cold', warm: 'warm (one source file changed)', cached: 'cached (nothing changed)' }[c];
      const p = t.before[c] / 1000;
      const was = before ? ` ${p.toFixed(2)} s | ${(p / k).toFixed(2)}× |` : '';
      console.log(`| ${name} | ${what} |${was} ${k.toFixed(2)} s | ${b.toFixed(2)} s | ${(b / k).toFixed(2)}× |`);
    }
  }
} finally {
  rmSync(join(tmpdir(), `kura-bench-layout-${process.pid}`), { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
