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
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
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
  plugins: [lazyChildProcess],
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
