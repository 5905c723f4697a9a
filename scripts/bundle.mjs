#!/usr/bin/env node
// Bundles the library's main entry (`import 'ocikura'`: the model and the transports) from tsc's
// output into one file, dist/ocikura.js, which package.json "exports" maps "." to. Node 20 pays
// about 0.7 ms for each ES module it loads, and the entry spans some sixty of ours: bundled, the
// import costs less than half (docs/benchmarks.md, "Start-up"). Dependencies stay external.
//
// The subpaths (ocikura/server, /testing, /analysis, /sbom, /signing) stay unbundled: they load their
// own modules lazily and are not dominated by start-up. So a program that imports both `ocikura` and a
// subpath holds two copies of the model; the errors they throw are recognised across copies
// (OciError's instanceof checks a registered symbol, src/oci/errors.ts).
//
// The CLI is bundled too, into dist/bin/ (package.json "bin": dist/bin/kura.js): one entry plus one
// chunk per lazily loaded command and per shared part (esbuild's code splitting keeps each `import()`
// of the command table lazy), and the createRequire banner only in the chunks that call require. commander is bundled in (it is on every command's path); every other
// package stays external and loads from node_modules when a command's work needs it. dist/bin/ sits
// at the same depth as dist/cli/, so the paths our modules resolve from import.meta.url
// (../../package.json, ../../build/Release, ../auth/bcrypt-worker.js) hold in both. dist/cli/main.js
// stays as tsc wrote it: the unbundled CLI, whose module graph src/test/startup.test.ts checks.
// The CLI chunks are minified for whitespace and syntax, not names (stack traces keep function names):
// commander alone goes from 125 to 56 KB, which V8 parses on every start.
//
//   npm run build        (tsc, then this script)
//
// dist/ocikura.meta.json is esbuild's metafile: which of our modules the bundle holds. The
// library test reads it to check that the entry holds no server code.
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { COPIED_INTO_COMMANDS } from './cli-copied.mjs';

const nodeRequire = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

const result = await build({
  entryPoints: [path.join(dist, 'index.js')],
  outfile: path.join(dist, 'ocikura.js'),
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  metafile: true,
  logLevel: 'warning',
});
writeFileSync(path.join(dist, 'ocikura.meta.json'), JSON.stringify(result.metafile));

/**
 * commander requires node:child_process at load, for executable subcommands (`kura-foo` binaries), which
 * Kura does not use; node:child_process brings net, dgram and stream with it, about 5 ms of every start.
 * In the bundle it loads on the first spawn instead (commander calls only `childProcess.spawn`).
 */
const lazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/, namespace: 'file' }, (args) => {
      const eager = "const childProcess = require('node:child_process');";
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(eager)) throw new Error(`${args.path}: no "${eager}" to make lazy (commander changed)`);
      const lazy =
        'let childProcessModule;\nconst childProcess = { spawn: (...a) => ' +
        "(childProcessModule ??= require('node:child_process')).spawn(...a) };";
      return { contents: text.replace(eager, lazy), loader: 'js' };
    });
  },
};

/**
 * An ES import of a Node built-in (`import { readFileSync } from 'node:fs'`) makes Node 20 build an ES module
 * facade over every export of the module, the first time in a process: 9 M instructions for node:fs, 6 M for
 * node:util, 23 M for node:process, measured with callgrind. In the CLI bundle each such import becomes a
 * require() of the built-in (which is loaded already) and reads of the names used: the same objects, without the
 * facade. Each importing module gets its own small shim, so that no shim becomes a chunk of its own.
 */
const BUILTIN_EXPORTS = new Map();
const shimIds = new Map();
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      if (args.kind !== 'import-statement' || args.namespace !== 'file' || args.path === 'node:module')
        return { path: args.path, external: true };
      let n = shimIds.get(args.importer);
      if (n === undefined) shimIds.set(args.importer, (n = shimIds.size));
      return { path: `${args.path}#${n}`, namespace: 'builtin-shim' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin-shim' }, (args) => {
      const id = args.path.slice(0, args.path.indexOf('#'));
      if (!BUILTIN_EXPORTS.has(id))
        BUILTIN_EXPORTS.set(
          id,
          Object.keys(nodeRequire(id)).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k)),
        );
      const names = BUILTIN_EXPORTS.get(id);
      const lines = [
        "import { createRequire } from 'node:module';",
        `const m = /* @__PURE__ */ createRequire(import.meta.url)(${JSON.stringify(id)});`,
        'export default m;',
        ...names.map((n) => `export const ${n} = /* @__PURE__ */ (() => m.${n})();`),
      ];
      return { contents: lines.join('\n'), loader: 'js', resolveDir: root };
    });
  },
};

/** commander is CommonJS: its require() calls of node built-ins need a require in the ES module scope. */
const REQUIRE_BANNER =
  "import { createRequire as kuraCreateRequire } from 'node:module';\nconst require = kuraCreateRequire(import.meta.url);\n";

const bin = path.join(dist, 'bin');
rmSync(bin, { recursive: true, force: true });
const cli = await build({
  entryPoints: { kura: path.join(dist, 'cli', 'main.js') },
  outdir: bin,
  absWorkingDir: root,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: [...Object.keys(pkg.dependencies ?? {}).filter((name) => name !== 'commander'), '*.node'],
  banner: { js: REQUIRE_BANNER.trimEnd() },
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [lazyChildProcess, builtinsByRequire],
  metafile: true,
  logLevel: 'warning',
});
writeFileSync(path.join(dist, 'bin.meta.json'), JSON.stringify(cli.metafile));
// The banner's createRequire costs about 0.5 M instructions per chunk loaded: keep it only where require is called
// (esbuild's runtime chunk, whose __require commander's built-in requires go through).
for (const file of Object.keys(cli.metafile.outputs).filter((f) => f.endsWith('.js'))) {
  const text = readFileSync(path.join(root, file), 'utf8');
  const at = text.indexOf(REQUIRE_BANNER);
  if (at < 0 || at > 100) throw new Error(`${file}: no banner at the start (esbuild changed)`);
  const rest = text.slice(at + REQUIRE_BANNER.length);
  if (!/\brequire\b/.test(rest)) writeFileSync(path.join(root, file), text.slice(0, at) + rest);
}

/**
 * Node 20 pays for every ES module it loads (resolve, realpath, an async read, compile, link), and code
 * splitting cuts the small helpers the commands share (option groups, digests, platforms, units) into one
 * chunk per set of commands that use them: `kura layers --help` loaded fifteen files. These helpers hold no
 * classes and no state, so a copy of them is as good as the shared one: each command's chunk gets its own
 * copy inlined, and a command's `--help` loads its chunk plus the few shared ones (commander, the errors,
 * esbuild's runtime). Modules with classes or module state (errors, stores, caches) are never copied;
 * src/test/startup.test.ts checks that the modules listed in scripts/cli-copied.mjs declare neither.
 */
const copied = new Set(COPIED_INTO_COMMANDS.map((m) => `dist/${m}`));
const outputs = cli.metafile.outputs;
const copyable = new Set(
  Object.entries(outputs)
    .filter(([f, o]) => f.endsWith('.js') && !o.entryPoint && Object.keys(o.inputs).length > 0)
    .filter(([, o]) => Object.keys(o.inputs).every((i) => copied.has(i)))
    .map(([f]) => path.basename(f)),
);
// A command's chunk: its entry, or the chunk its module went to when several commands' entries share it.
const isCommand = (m) => m.startsWith('dist/cli/commands/');
const commandChunks = Object.entries(outputs)
  .filter(([f, o]) => f.endsWith('.js') && (isCommand(o.entryPoint ?? '') || Object.keys(o.inputs).some(isCommand)))
  .map(([f]) => path.join(root, f));
for (const file of commandChunks) {
  const again = await build({
    entryPoints: [file],
    outfile: file,
    allowOverwrite: true,
    absWorkingDir: root,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'inline-copyable-chunks',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            const name = path.basename(args.path);
            if (args.path.startsWith('./') && copyable.has(name)) return { path: path.join(bin, name) };
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  // The metafile says what each command's chunk now holds and imports.
  const key = path.relative(root, file);
  const out = again.metafile.outputs[key];
  const inlined = Object.keys(out.inputs)
    .filter((i) => i !== key)
    .map((i) => outputs[i]?.inputs ?? {});
  outputs[key] = {
    ...outputs[key],
    bytes: out.bytes,
    imports: out.imports,
    inputs: Object.assign({}, outputs[key].inputs, ...inlined),
  };
}
writeFileSync(path.join(dist, 'bin.meta.json'), JSON.stringify(cli.metafile));
