// kura build against buildah (Debian's `buildah build --layers`, vfs storage, chroot isolation) on the same Dockerfiles:
// an app-shaped one and a multi-stage one, each cold (empty cache), warm (one source file changed) and cached (nothing
// changed); a markdown table with the ratios. Needs root, runc, buildah and /bin/busybox (busybox-static).
// `node-app` is the build issue's shape: a base with this machine's node and npm, `COPY package*.json`,
// `RUN npm ci --offline` from a local npm cache (FILES / 10 generated packages of 10 files), `COPY src`.
// Usage: node bench/build.mjs [FILES] [RUNS] [NAMES]   (FILES: files in the copied dependency tree; RUNS: best
// of N; NAMES: comma-separated Dockerfiles, all by default)
// KURA_BENCH_BEFORE=PATH (another build's dist/bin/kura.js) adds a column for it, run in the same pass.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { kuraMain } from './lib/kura.mjs';

const files = Number(process.argv[2] ?? 2000);
const runs = Number(process.argv[3] ?? 1);
const only = process.argv[4]?.split(',');
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
  'node-app': [
    'ARG BASE',
    'FROM ${BASE}',
    'ENV NPM_CONFIG_UPDATE_NOTIFIER=false',
    'WORKDIR /app',
    'COPY package.json package-lock.json ./',
    'COPY npm-cache /npm-cache',
    'RUN npm ci --offline --cache /npm-cache --no-audit --no-fund --loglevel=error',
    'COPY src ./src',
    'CMD ["node", "src/index.js"]',
  ],
};

/** FILES / 10 packages of 10 files as npm tarballs in an npm cache at CTX/npm-cache, and a lockfile naming them. */
function npmProject(ctx) {
  const pkgs = join(ctx, '..', 'npm-packages');
  const pkg = { name: 'app', version: '1.0.0', dependencies: {} };
  const lock = { name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': {} } };
  const tarballs = [];
  for (let p = 0; p < Math.max(1, Math.floor(files / 10)); p++) {
    const [name, version] = [`kura-bench-dep${p}`, `1.0.${p}`];
    const dir = join(pkgs, name, 'package');
    mkdirSync(join(dir, 'lib'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version, main: 'lib/f0.js' }));
    for (let i = 0; i < 9; i++) writeFileSync(join(dir, 'lib', `f${i}.js`), `module.exports = ${i};\n`.repeat(20));
    const tgz = join(pkgs, `${name}-${version}.tgz`);
    run('tar', ['-czf', tgz, '-C', join(pkgs, name), 'package']);
    tarballs.push(tgz);
    pkg.dependencies[name] = version;
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    const resolved = `https://registry.npmjs.org/${name}/-/${name}-${version}.tgz`;
    lock.packages[`node_modules/${name}`] = { version, resolved, integrity };
  }
  lock.packages[''] = { name: 'app', version: '1.0.0', dependencies: pkg.dependencies };
  writeFileSync(join(ctx, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(join(ctx, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  run('npm', ['cache', 'add', '--cache', join(ctx, 'npm-cache'), ...tarballs]);
}

/** A base rootfs at ROOT: busybox, and with NODE, this machine's node binary, its libraries and npm. */
function baseRoot(root, node) {
  for (const d of ['bin', 'etc', 'tmp', 'root']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const c of ['sh', 'cp', 'mkdir', 'cat', 'ls', 'rm']) symlinkSync('busybox', join(root, 'bin', c));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  if (!node) return;
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  symlinkSync('/bin/busybox', join(root, 'usr/bin/env'));
  const bin = realpathSync(process.execPath);
  const libs = spawnSync('ldd', [bin], { encoding: 'utf8' }).stdout.matchAll(/(\/\S+) \(0x/g);
  for (const path of [bin, ...[...libs].map((m) => m[1])]) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    copyFileSync(realpathSync(path), join(root, path));
    chmodSync(join(root, path), 0o755);
  }
  if (bin !== '/usr/bin/node') symlinkSync(bin, join(root, 'usr/bin/node'));
  const npm = realpathSync(join(dirname(bin), '../lib/node_modules/npm'));
  mkdirSync(join(root, 'usr/lib/node_modules'), { recursive: true });
  run('cp', ['-a', npm, join(root, 'usr/lib/node_modules/npm')]);
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/bin/npm'));
}

/** One Dockerfile: cold, warm (one source changed), cached (no change) with each builder, in fresh storage. */
function scenario(name, layout) {
  const ctx = join(work, `ctx-${name}`);
  for (let i = 0; i < (name === 'node-app' ? 0 : files); i++) {
    const dir = join(ctx, 'cache', `pkg${i % 100}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.js`), `module.exports = ${i};\n`.repeat(20));
  }
  mkdirSync(join(ctx, 'src'), { recursive: true });
  if (name === 'node-app') npmProject(ctx);
  else writeFileSync(join(ctx, 'package.json'), '{"name":"app"}\n');
  for (let i = 0; i < 20; i++) writeFileSync(join(ctx, 'src', `m${i}.js`), `export const m${i} = ${i};\n`);
  writeFileSync(join(ctx, 'src/index.js'), 'console.log(1);\n');
  const tag = name === 'node-app' ? 'node' : 'base';
  writeFileSync(join(ctx, 'Dockerfile'), `${DOCKERFILES[name].join('\n')}\n`);
  const best = (f) => Math.min(...Array.from({ length: runs }, f));
  const times = { kura: {}, buildah: {}, before: {} };
  const kuraBuild = (main) => (store) => () =>
    run('node', [main, 'build', '-q', '--build-arg', `BASE=oci:${layout}:${tag}`, ctx], {
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
          `BASE=oci:${layout}:${tag}`,
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
  const env = { ...process.env, KURA_STORE: join(work, 'import-store') };
  // buildah reads `oci:` names as references too: the layout's path must be lowercase
  const layout = join(tmpdir(), `kura-bench-layout-${process.pid}`);
  for (const tag of ['base', 'node']) {
    const root = join(work, `rootfs-${tag}`);
    baseRoot(root, tag === 'node');
    run('tar', ['-C', root, '-cf', join(work, `${tag}.tar`), '.']);
    run('node', [kura, 'import', join(work, `${tag}.tar`), `bench-base:${tag}`], env);
    run('node', [kura, 'copy', `local:bench-base:${tag}`, `oci:${layout}:${tag}`], env);
  }
  console.log(
    `${files} files in the copied tree, best of ${runs}, ${process.arch}, node ${process.version}, ` +
      `${spawnSync('buildah', ['--version'], { encoding: 'utf8' }).stdout.trim()}\n`,
  );
  console.log(
    `| Dockerfile | build |${before ? ' kura before | before ÷ kura |' : ''} kura | buildah | buildah ÷ kura |`,
  );
  console.log(`|---|---|${before ? '---:|---:|' : ''}---:|---:|---:|`);
  for (const name of Object.keys(DOCKERFILES).filter((n) => !only || only.includes(n))) {
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
  // KURA_BENCH_KEEP=1 keeps the contexts, stores and base layout for a look afterwards
  if (process.env.KURA_BENCH_KEEP) console.log(`kept: ${work} ${join(tmpdir(), `kura-bench-layout-${process.pid}`)}`);
  else {
    rmSync(join(tmpdir(), `kura-bench-layout-${process.pid}`), { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
