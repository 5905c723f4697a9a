#!/usr/bin/env node
// scripts/mutants.mjs: the mutation check of the conformance suites (npm run test:mutants, CI's slow lane).
//
// Each mutant is a plausible bug written as an exact search/replace on the current source. For each one
// the script applies it in a scratch copy of the project (src copied, everything else symlinked), rebuilds
// with an incremental tsc, and runs only the conformance suite meant to catch it (its test files, filtered
// by test name), with a timeout. A mutant that the suite lets pass "survives" and fails the run; a search
// string that is not found exactly once fails the run before anything is built, so the list stays honest
// when code moves. The baseline (unmutated) suites are expected green: CI runs this after `npm test`
// (pass --baseline to check them here too).
//
//   node scripts/mutants.mjs [--only S2,T1] [--baseline] [--keep]
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const STORAGE = { name: 'storage', files: ['dist/storage/fs.test.js'], pattern: 'BlobStore conformance' };
const META_SQLITE = { name: 'metadata', files: ['dist/metadata/sqlite.test.js'], pattern: 'MetadataStore conformance' };
const META_MEMORY = { name: 'metadata', files: ['dist/metadata/memory.test.js'], pattern: 'MetadataStore conformance' };
const LAYOUT = { name: 'transport', files: ['dist/transports/layout/oci-layout.test.js'], pattern: '^oci layout: ' };
const TRANSPORT = {
  name: 'transport',
  files: ['dist/transports/memory.test.js', 'dist/transports/layout/oci-layout.test.js'],
  pattern: '^(memory|oci layout): ',
};

/** The review's mutation table (../shared/reference/library-and-tests-review.md B.4), plus a few more. */
const MUTANTS = [
  {
    id: 'S1',
    what: 'FsBlobStore.list() drops the last entry of each shard directory',
    suite: STORAGE,
    file: 'src/storage/fs.ts',
    search: 'for (const entry of await entries(join(blobs, alg, prefix))) {',
    replace: 'for (const entry of (await entries(join(blobs, alg, prefix))).slice(0, -1)) {',
  },
  {
    id: 'S2',
    what: 'FsBlobStore.list() yields only the first blob of each shard directory',
    suite: STORAGE,
    file: 'src/storage/fs.ts',
    search: '&& isDigest(d)) yield d;',
    replace: '&& isDigest(d)) {\n            yield d;\n            break;\n          }',
  },
  {
    id: 'M1',
    what: 'SQLite listTags: `name > ?` becomes `name >= ?` (a page repeats the last item)',
    suite: META_SQLITE,
    file: 'src/metadata/sqlite/manifests.ts',
    search: "'SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?'",
    replace: "'SELECT name FROM tags WHERE repo_id = ? AND name >= ? ORDER BY name LIMIT ?'",
  },
  {
    id: 'M1b',
    what: 'memory pagination: `last` becomes inclusive (paging by one never advances)',
    suite: META_MEMORY,
    file: 'src/metadata/memory/db.ts',
    search: 'if (compareBytewise(sorted[mid]!, page.last) <= 0) start = mid + 1;',
    replace: 'if (compareBytewise(sorted[mid]!, page.last) < 0) start = mid + 1;',
  },
  {
    id: 'M2',
    what: 'MemoryMetadataStore.deleteTag keeps the cached sorted tag list',
    suite: META_MEMORY,
    file: 'src/metadata/memory/manifests.ts',
    search: '    this.db.appendEvents(events);\n    r.sortedTags.invalidate();\n    return true;',
    replace: '    this.db.appendEvents(events);\n    return true;',
  },
  {
    id: 'M3',
    what: 'SQLite listRepositories: `name > ?` becomes `name >= ?`',
    suite: META_SQLITE,
    file: 'src/metadata/sqlite/manifests.ts',
    search: "'SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?'",
    replace: "'SELECT name FROM repositories WHERE name >= ? ORDER BY name LIMIT ?'",
  },
  {
    id: 'T1',
    what: "OciLayout.write keeps only ref.name in the index.json entry, dropping the descriptor's annotations",
    suite: LAYOUT,
    file: 'src/transports/layout/oci-layout.ts',
    search: 'annotations: { ...(base.annotations ?? {}), [REF_NAME]: ref }',
    replace: 'annotations: { [REF_NAME]: ref }',
  },
  {
    id: 'T2',
    what: 'OciLayout.delete(tag) removes every entry of the digest the tag names (its other tags too)',
    suite: LAYOUT,
    file: 'src/transports/layout/oci-layout.ts',
    search:
      'const keep = idx.manifests.filter((m) => (isDigest(ref) ? m.digest !== ref : m.annotations?.[REF_NAME] !== ref));',
    replace:
      'const hit = idx.manifests.find((m) => m.digest === ref || m.annotations?.[REF_NAME] === ref);\n' +
      '      const keep = idx.manifests.filter((m) => !hit || m.digest !== hit.digest);',
  },
  {
    id: 'T2b',
    what: 'OciLayout.delete(name) empties index.json',
    suite: LAYOUT,
    file: 'src/transports/layout/oci-layout.ts',
    search:
      'const keep = idx.manifests.filter((m) => (isDigest(ref) ? m.digest !== ref : m.annotations?.[REF_NAME] !== ref));',
    replace:
      'const keep = idx.manifests.some((m) => m.digest === ref || m.annotations?.[REF_NAME] === ref)\n' +
      '        ? []\n        : idx.manifests;',
  },
  {
    id: 'T3',
    what: 'MemoryImages.delete(tag) also removes the other tags of its image',
    suite: TRANSPORT,
    file: 'src/transports/memory.ts',
    search:
      '} else if (!this.tagMap.delete(ref)) throw new OciError(\'MANIFEST_UNKNOWN\', `no tag "${ref}" in memory`);',
    replace:
      '} else {\n      const d = this.tagMap.get(ref);\n' +
      '      if (!d) throw new OciError(\'MANIFEST_UNKNOWN\', `no tag "${ref}" in memory`);\n' +
      '      for (const [t, x] of this.tagMap) if (x === d) this.tagMap.delete(t);\n    }',
  },
  {
    id: 'T4',
    what: 'verifying() checks the size but not the digest',
    suite: TRANSPORT,
    file: 'src/oci/verify.ts',
    search: 'if (got !== d.digest) return cb(',
    replace: 'if (got !== d.digest && d.size < 0) return cb(',
  },
  {
    id: 'T5',
    what: "an image manifest's children omit its config, so no sink copies config blobs",
    suite: TRANSPORT,
    file: 'src/oci/manifest.ts',
    search: 'return [p.manifest.config, ...p.manifest.layers.filter((l) => !l.urls?.length)];',
    replace: 'return [...p.manifest.layers.filter((l) => !l.urls?.length)];',
  },
];

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
const selected = only ? MUTANTS.filter((m) => only.includes(m.id)) : MUTANTS;
if (only && selected.length !== only.length) fail(`unknown mutant in --only ${only.join(',')}`);
const TEST_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 180_000;

function fail(msg) {
  console.error(`mutants: error: ${msg}`);
  process.exit(2);
}

// Every search string must be found exactly once in the current source, before anything is built.
for (const m of selected) {
  const src = readFileSync(join(ROOT, m.file), 'utf8');
  const n = src.split(m.search).length - 1;
  if (n !== 1) fail(`${m.id}: the search string is found ${n} times in ${m.file} (expected once): update the mutant`);
}

/** Runs a command; resolves with its exit code (null when killed for the timeout), output and seconds. */
function run(cmd, argv, cwd, timeoutMs) {
  return new Promise((done) => {
    const t0 = Date.now();
    const child = spawn(cmd, argv, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: timedOut ? null : code, out, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'kura-mutants-'));
process.on('exit', () => {
  if (!args.includes('--keep')) rmSync(scratch, { recursive: true, force: true });
});
for (const entry of readdirSync(ROOT)) {
  if (['src', 'dist', '.git'].includes(entry) || entry.endsWith('.tsbuildinfo')) continue;
  symlinkSync(join(ROOT, entry), join(scratch, entry));
}
cpSync(join(ROOT, 'src'), join(scratch, 'src'), { recursive: true });

const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const build = () =>
  run(
    process.execPath,
    [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', '.tsbuildinfo'],
    scratch,
    600_000,
  );
const suiteRun = (m) =>
  run(
    process.execPath,
    [
      '--test',
      '--test-concurrency=1',
      `--test-timeout=${TEST_TIMEOUT_MS}`,
      `--test-name-pattern=${m.suite.pattern}`,
      ...m.suite.files,
    ],
    scratch,
    RUN_TIMEOUT_MS,
  );

const t0 = Date.now();
let b = await build();
if (b.code !== 0) fail(`the unmutated source does not build:\n${b.out}`);
console.log(`mutants: baseline build in ${b.seconds.toFixed(1)} s (${scratch})`);
if (args.includes('--baseline')) {
  for (const m of selected) {
    const r = await suiteRun(m);
    if (r.code !== 0) fail(`${m.id}: the unmutated ${m.suite.name} suite fails:\n${r.out.slice(-4000)}`);
  }
  console.log('mutants: baseline suites pass');
}

const rows = [];
for (const m of selected) {
  const path = join(scratch, m.file);
  const original = readFileSync(path, 'utf8');
  writeFileSync(
    path,
    original.replace(m.search, () => m.replace),
  );
  const t = Date.now();
  b = await build();
  if (b.code !== 0) {
    writeFileSync(path, original);
    fail(`${m.id}: the mutated source does not compile (fix the replacement):\n${b.out.slice(-3000)}`);
  }
  const r = await suiteRun(m);
  const caught = r.code !== 0;
  const how = r.code === null ? 'caught (timeout)' : caught ? 'caught' : 'SURVIVED';
  const failures = (/^# fail (\d+)/m.exec(r.out) ?? [])[1] ?? '?';
  rows.push({ id: m.id, suite: m.suite.name, result: how, failures, seconds: (Date.now() - t) / 1000, what: m.what });
  console.log(`mutants: ${m.id} ${how} (${failures} failing tests, ${r.seconds.toFixed(1)} s of tests)`);
  writeFileSync(path, original);
}

const header = ['mutant', 'suite', 'result', 'failing', 'seconds', 'bug'];
const table = [header, ...rows.map((r) => [r.id, r.suite, r.result, r.failures, r.seconds.toFixed(1), r.what])];
const widths = header.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
for (const row of table)
  console.log(
    row
      .map((c, i) => String(c).padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
const survivors = rows.filter((r) => r.result === 'SURVIVED');
console.log(
  `mutants: ${rows.length - survivors.length}/${rows.length} caught in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);
if (survivors.length) {
  console.error(
    `mutants: error: ${survivors.map((r) => r.id).join(', ')} survived: strengthen the suite that should catch it`,
  );
  process.exit(1);
}
