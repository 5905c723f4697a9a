/**
 * Start-up: what `kura --version`, `kura --help` and `kura COMMAND --help` load. Time is measured
 * by bench/startup.mjs; this test checks the cause instead, which does not depend on the machine:
 * the modules each command line loads (recorded by the resolve hook of module-trace.ts, which sees
 * every ESM import and import() of ours and of the packages we import) must not include the heavy
 * packages, and --version/--help no command module at all. The module graph is checked on the
 * unbundled CLI (dist/cli/, one module per source file); the shipped CLI is its bundle (dist/bin/),
 * checked for freshness and for what it loads.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KURA_MAIN, KURA_UNBUNDLED, REPO_ROOT } from './kura-process.js';
import { loadedBy, oursIn, packagesIn } from './module-load.js';

/** Packages only the work of a command may load: the server, SQLite, the config schema, tar, SBOM documents. */
const HEAVY = ['fastify', 'better-sqlite3', 'zod', 'tar-stream', '@cyclonedx', 'piscina', 'yaml', 'jose'];

/** The module URLs `kura ARGS` resolves, after checking that it succeeded. */
const loaded = (args: string[]) => loadedBy([KURA_UNBUNDLED, ...args]);
/** The heavy packages among module URLs, by name. */
const heavy = (urls: string[]) => HEAVY.filter((p) => urls.some((u) => u.includes(`/node_modules/${p}/`)));
const ours = oursIn;

test('the module trace sees what a process loads, packages included (so the checks below can fail)', () => {
  const urls = loaded(['serve', '--help']);
  assert.ok(ours(urls).includes('cli/commands/serve.js'), ours(urls).join(' '));
  const fastify = loadedBy(['--input-type=module', '-e', "await import('fastify')"], { cwd: REPO_ROOT });
  assert.deepEqual(heavy(fastify), ['fastify']);
});

test('kura copy --help and kura inspect --help load none of the heavy packages', () => {
  for (const name of ['copy', 'inspect']) assert.deepEqual(heavy(loaded([name, '--help'])), [], name);
});

test('kura --version and kura --help load commander and the command table only', () => {
  for (const args of [['--version'], ['--help'], ['help']]) {
    const urls = loaded(args);
    assert.deepEqual(heavy(urls), [], `kura ${args.join(' ')}`);
    assert.deepEqual(ours(urls), ['cli/errors.js', 'cli/main.js', 'cli/program.js'], `kura ${args.join(' ')}`);
  }
});

/**
 * Known exceptions: none. (serve lists its flags from a table generated from the config schema,
 * config/flags.ts, and sbom renders through sbom/render.ts, loaded by its action.)
 */
const EXCEPTIONS: Record<string, string[]> = {};

test('kura COMMAND --help loads no heavy package, for every command', async () => {
  const { COMMANDS } = await import('../cli/program.js');
  const offenders: Record<string, string[]> = {};
  for (const name of Object.keys(COMMANDS)) {
    const found = heavy(loaded([name, '--help'])).filter((p) => !EXCEPTIONS[name]?.includes(p));
    if (found.length) offenders[name] = found;
  }
  assert.deepEqual(offenders, {});
});

test('a copy between two OCI layouts loads no signing keys, no tar and no server code', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { OciLayout } = await import('../transports/layout/index.js');
  const { randomImage } = await import('../oci/random.js');
  const dir = mkdtempSync(join(tmpdir(), 'kura-startup-copy-'));
  try {
    await new OciLayout(join(dir, 'src')).write('v1', await randomImage({ seed: 4 }));
    const urls = loaded(['copy', '-q', `oci:${join(dir, 'src')}:v1`, `oci:${join(dir, 'dst')}:v1`]);
    assert.deepEqual(heavy(urls), []);
    assert.ok(!urls.some((u) => u.includes('/node_modules/tweetnacl/')), 'tweetnacl is for signing keys only');
    const unwanted = ours(urls).filter((f) => /^(signing\/keys|http|server|registry|metadata)\b/.test(f));
    assert.deepEqual(unwanted, []);
    assert.ok(ours(urls).includes('transports/layout/oci-layout.js'), 'the copy really ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The bundle's chunks among module URLs (dist/bin/*.js). */
const chunks = (urls: string[]) => [...new Set(urls.filter((u) => u.includes('/dist/bin/')))];

test('the shipped CLI is the bundle of the current dist/cli/ build', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.equal(join(REPO_ROOT, pkg.bin.kura!), KURA_MAIN);
  const meta = JSON.parse(readFileSync(join(REPO_ROOT, 'dist/bin.meta.json'), 'utf8')) as {
    inputs: Record<string, { bytes: number }>;
  };
  assert.ok('dist/cli/commands/serve.js' in meta.inputs, 'the metafile lists the bundled modules');
  // Our modules, as tsc wrote them (commander's command.js is rewritten on the way in: scripts/bundle.mjs).
  const stale = Object.entries(meta.inputs).filter(
    ([f, i]) => f.startsWith('dist/') && statSync(join(REPO_ROOT, f)).size !== i.bytes,
  );
  assert.deepEqual(stale, [], 'modules changed since the CLI bundle was made: run npm run build');
  assert.deepEqual(
    packagesIn(Object.keys(meta.inputs).map((f) => `/${f}`)),
    ['commander'],
    'commander is bundled in; every other package loads from node_modules',
  );
});

/**
 * Whether `node ARGS` loaded node:crypto (about 8 ms of CPU, OpenSSL's set-up), however it was loaded:
 * the module trace sees imports only, so this asks the process itself (process.moduleLoadList).
 */
function loadsCrypto(args: string[]): boolean {
  return loadsBuiltin('crypto', args);
}

/** Whether `node ARGS` loaded the built-in module `name` (process.moduleLoadList, as above). */
function loadsBuiltin(name: string, args: string[]): boolean {
  const probe =
    `process.on("exit",()=>process.stderr.write(process.moduleLoadList.includes("NativeModule ${name}")` +
    `?"@loaded@":""))`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, ...args], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr.includes('@loaded@');
}

test('the probe sees node:crypto loaded by require as well as by import (so the check below can fail)', () => {
  assert.ok(loadsCrypto(['-e', "require('node:crypto')"]));
  assert.ok(!loadsCrypto(['-e', '0']));
});

test('the bundled kura --version loads no package and a few chunks; COMMAND --help no heavy package', () => {
  const version = loadedBy([KURA_MAIN, '--version']);
  assert.deepEqual(packagesIn(version), []);
  assert.ok(chunks(version).length <= 5, chunks(version).join(' '));
  for (const name of ['serve', 'copy', 'pull', 'inspect', 'layers', 'sbom', 'scan', 'sign', 'gc'])
    assert.deepEqual(heavy(loadedBy([KURA_MAIN, name, '--help'])), [], name);
});

test('kura COMMAND --help does not load node:crypto, for every command: only work needs it', async () => {
  const { COMMANDS } = await import('../cli/program.js');
  const offenders = Object.keys(COMMANDS).filter((name) => loadsCrypto([KURA_MAIN, name, '--help']));
  assert.deepEqual(offenders, []);
});

test('only the chunks that call require carry the createRequire banner', () => {
  const meta = JSON.parse(readFileSync(join(REPO_ROOT, 'dist/bin.meta.json'), 'utf8')) as {
    outputs: Record<string, unknown>;
  };
  const files = Object.keys(meta.outputs).filter((o) => o.endsWith('.js'));
  const banner = files.filter((f) => readFileSync(join(REPO_ROOT, f), 'utf8').includes('kuraCreateRequire('));
  assert.ok(banner.length >= 1 && banner.length <= 3, banner.join(' '));
  for (const f of banner) {
    const text = readFileSync(join(REPO_ROOT, f), 'utf8');
    assert.match(text.slice(text.indexOf('kuraCreateRequire(import.meta.url);') + 30), /\brequire\b/, f);
  }
});

test('kura COMMAND --help loads at most 9 chunks and no node:readline (a prompt loads it when it asks)', () => {
  for (const name of ['tags', 'inspect', 'pull', 'sbom', 'layers', 'lint', 'scan', 'copy', 'sign']) {
    const loaded = chunks(loadedBy([KURA_MAIN, name, '--help']));
    assert.ok(loaded.length <= 9, `${name}: ${loaded.length} chunks`);
  }
  assert.equal(loadsBuiltin('readline', [KURA_MAIN, 'scan', '--help']), false);
});

test('kura --version and --help do not load node:child_process (commander takes it lazily in the bundle)', () => {
  assert.ok(loadsBuiltin('child_process', ['-e', 'require("node:child_process")']), 'the probe sees it');
  for (const args of [['--version'], ['--help'], ['copy', '--help']])
    assert.equal(loadsBuiltin('child_process', [KURA_MAIN, ...args]), false, `kura ${args.join(' ')}`);
});

test('the helpers copied into each command chunk declare no class and no module state', async () => {
  const { COPIED_INTO_COMMANDS } = (await import(join(REPO_ROOT, 'scripts/cli-copied.mjs'))) as {
    COPIED_INTO_COMMANDS: string[];
  };
  assert.ok(COPIED_INTO_COMMANDS.includes('oci/digest.js'));
  const stateful =
    /^(export )?(let|var) |^(export )?(abstract )?class |^(export )?const \w+ = new (Map|Set|WeakMap)\b/m;
  for (const m of COPIED_INTO_COMMANDS) {
    const text = readFileSync(join(REPO_ROOT, 'src', m.replace(/\.js$/, '.ts')), 'utf8');
    assert.doesNotMatch(text, stateful, `${m} holds a class or module state: a copy of it would not be the same`);
  }
  assert.match('class X {}', stateful, 'the check sees a class');
});

test('no chunk of the CLI imports a Node built-in as an ES module (each is a require: no facade to build)', () => {
  const meta = JSON.parse(readFileSync(join(REPO_ROOT, 'dist/bin.meta.json'), 'utf8')) as {
    outputs: Record<string, unknown>;
  };
  const files = Object.keys(meta.outputs).filter((o) => o.endsWith('.js'));
  assert.ok(files.length > 50);
  const esm = files.filter((f) => /from\s*"node:(?!module")/.test(readFileSync(join(REPO_ROOT, f), 'utf8')));
  assert.deepEqual(esm, []);
  // node:process in particular: its facade alone costs Node 20 about 25 M instructions.
  const probe = loadedBy(['--input-type=module', '-e', "import 'node:process'"], { cwd: REPO_ROOT });
  assert.ok(probe.includes('node:process'), 'the trace sees an import of node:process');
  assert.ok(!loadedBy([KURA_UNBUNDLED, 'layers', '--help']).includes('node:process'));
});
