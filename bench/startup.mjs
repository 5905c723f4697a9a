#!/usr/bin/env node
// Start-up cost of the kura CLI, side by side with bare Node in one run: `node -e 0`, then
// `kura --version`, `kura --help` and several `kura COMMAND --help` (each a command's path up to
// its first network or disk operation), run N times each, interleaved so that a busy machine
// slows every row alike. Prints a markdown table: median wall time, the difference from
// `node -e 0`, and the ratio.
//
//   npm run build && node bench/startup.mjs [--runs N] [--budget MS] [--kura PATH/TO/dist/bin/kura.js]
//
// By default it measures the CLI as shipped (package.json "bin": the bundle dist/bin/kura.js).
// --kura measures another build the same way (an older commit's dist/cli/main.js, or this build's
// unbundled dist/cli/main.js).
// Exit 1 when a kura row costs more than --budget (default 30) ms above `node -e 0`, or the
// library import more than --library-budget (default 40) ms.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { extraCaNote } from './lib/kura.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const KURA = args.includes('--kura')
  ? path.resolve(args[args.indexOf('--kura') + 1])
  : path.join(repoRoot, 'dist/bin/kura.js');
/**
 * The library entry beside the CLI measured: what package.json maps "." to in the same build
 * (dist/ocikura.js, bundled by scripts/bundle.mjs; dist/index.js in builds from before the bundle),
 * and the unbundled dist/index.js beside it, to show what the bundle saves.
 */
const UNBUNDLED = path.join(path.dirname(KURA), '..', 'index.js');
const BUNDLED = path.join(path.dirname(KURA), '..', 'ocikura.js');
const LIBRARY = existsSync(BUNDLED) ? BUNDLED : UNBUNDLED;
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const runs = opt('--runs', 21);
const budget = opt('--budget', 30);
const libraryBudget = opt('--library-budget', 40);

/**
 * The floor under any ES-module CLI on this Node: an empty module file (Node 20 starts its ES module
 * loader for it), and one that only imports commander (the argument parser every command uses).
 */
const floor = mkdtempSync(path.join(os.tmpdir(), 'kura-startup-'));
process.on('exit', () => rmSync(floor, { recursive: true, force: true }));
writeFileSync(path.join(floor, 'empty.mjs'), '');
const commanderUrl = pathToFileURL(createRequire(KURA).resolve('commander')).href;
writeFileSync(path.join(floor, 'commander.mjs'), `import ${JSON.stringify(commanderUrl)};\n`);

const rows = [
  ['node -e 0', ['-e', '0']],
  ['empty ES module (floor)', [path.join(floor, 'empty.mjs')]],
  ['ES module importing commander (floor)', [path.join(floor, 'commander.mjs')]],
  ['kura --version', [KURA, '--version']],
  ['kura --help', [KURA, '--help']],
  ['kura copy --help', [KURA, 'copy', '--help']],
  ['kura inspect --help', [KURA, 'inspect', '--help']],
  ['kura pull --help', [KURA, 'pull', '--help']],
  ['kura serve --help', [KURA, 'serve', '--help']],
  ['kura gc --help', [KURA, 'gc', '--help']],
  ['kura sbom --help', [KURA, 'sbom', '--help']],
  ['kura layers --help', [KURA, 'layers', '--help']],
  ['kura lint --help', [KURA, 'lint', '--help']],
  ['kura images --help', [KURA, 'images', '--help']],
  ['kura sign --help', [KURA, 'sign', '--help']],
  ['kura scan --help', [KURA, 'scan', '--help']],
  ['kura tags --help', [KURA, 'tags', '--help']],
  // The library entry (package.json "exports": "."), loaded as a user's program would.
  ["import 'ocikura'", ['--input-type=module', '-e', `await import(${JSON.stringify(LIBRARY)})`]],
  ['import dist/index.js (unbundled)', ['--input-type=module', '-e', `await import(${JSON.stringify(UNBUNDLED)})`]],
];

/** Wall milliseconds of one run; a failing run stops the benchmark (it would measure an error path). */
function once(argv) {
  const t0 = process.hrtime.bigint();
  const env = { ...process.env, NO_COLOR: '1' };
  const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const times = rows.map(() => []);
for (const [, argv] of rows) once(argv); // warm the file cache
for (let i = 0; i < runs; i++) rows.forEach(([, argv], j) => times[j].push(once(argv)));

const base = median(times[0]);
const cpus = os.cpus();
const machine = `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, load ${os.loadavg()[0].toFixed(1)}`;
console.log(`Start-up, ${runs} runs each (interleaved), Node ${process.version}, ${machine}`);
console.log('');
console.log(extraCaNote());
console.log('');
console.log('| command | median ms | above `node -e 0` | ratio |');
console.log('|---|---:|---:|---:|');
let over = false;
rows.forEach(([name], j) => {
  const m = median(times[j]);
  const above = m - base;
  if (rows[j][0].startsWith('kura') && above > budget) over = true;
  if (rows[j][0] === "import 'ocikura'" && above > libraryBudget) over = true;
  console.log(`| \`${name}\` | ${m.toFixed(1)} | ${j ? `+${above.toFixed(1)}` : '—'} | ${(m / base).toFixed(2)} |`);
});
if (over) {
  console.error(
    `\na command costs more than ${budget} ms, or the library more than ${libraryBudget} ms, above node -e 0`,
  );
  process.exit(1);
}
