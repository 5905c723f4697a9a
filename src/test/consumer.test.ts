/**
 * The packed package, used as a user uses it: what `npm pack` ships, a strict type-check of a consumer project
 * against the entry points only (its type tests and every program of docs/library.md included), and those
 * programs run against a real `kura serve`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { installConsumer, type Consumer } from './consumer-package.js';
import { REPO_ROOT, loadTestImages, makeTestImages, startKura, type KuraProcess } from './kura-process.js';

const FIXTURE = join(REPO_ROOT, 'test-consumer');
const LIBRARY_DOC = join(REPO_ROOT, 'docs', 'library.md');
/** The proof: each task takes at most this many lines of user code. */
const MAX_PROGRAM_LINES = 10;

export interface DocProgram {
  /** e.g. `03-list-the-tags-of-a-repository-and-delete-one`: its order and the heading above it. */
  name: string;
  code: string;
}

/** Every ```ts block of a Markdown text, named by its position and the nearest heading above it. */
export function docPrograms(markdown: string): DocProgram[] {
  const out: DocProgram[] = [];
  let heading = 'top';
  const re = /^(#{1,6}) (.*)$|^```ts\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    if (m[2] !== undefined) heading = m[2];
    else {
      const slug = heading
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
      out.push({ name: `${String(out.length + 1).padStart(2, '0')}-${slug}`.slice(0, 60), code: m[3]! });
    }
  }
  return out;
}

/** Lines of code as the review counted them: not blank, not a comment. */
export function codeLines(code: string): number {
  return code.split('\n').filter((l) => l.trim() && !l.trim().startsWith('//')).length;
}

const programs = docPrograms(readFileSync(LIBRARY_DOC, 'utf8'));
let consumer: Consumer;
let typeErrors = '';
const scratch = mkdtempSync(join(tmpdir(), 'kura-docs-run-'));

before(() => {
  consumer = installConsumer(FIXTURE);
  mkdirSync(join(consumer.dir, 'src', 'docs'));
  for (const p of programs) writeFileSync(join(consumer.dir, 'src', 'docs', `${p.name}.ts`), p.code);
  try {
    consumer.tsc();
  } catch (e) {
    typeErrors = (e as { stdout?: string }).stdout || (e as Error).message;
  }
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  if (consumer) rmSync(dirname(consumer.dir), { recursive: true, force: true });
});

test('docPrograms finds every ts block under its heading, and codeLines counts code only', () => {
  const md = '# A\n```ts\nconst a = 1;\n\n// note\n```\n## B c!\n```sh\nls\n```\n```ts\nx();\n```\n';
  assert.deepEqual(docPrograms(md), [
    { name: '01-a', code: 'const a = 1;\n\n// note\n' },
    { name: '02-b-c', code: 'x();\n' },
  ]);
  assert.equal(codeLines('const a = 1;\n\n  // note\nb();\n'), 2);
  assert.ok(programs.length >= 6, `docs/library.md has its programs (found ${programs.length})`);
});

test('the package ships no compiled tests, test kit, child scripts or source maps, and what its entries need', () => {
  const files = consumer.files;
  const banned = files.filter((f) => /\.test\.|\.child\.|\.map$/.test(f) || f.startsWith('dist/test/'));
  assert.deepEqual(banned, [], 'files the package must not ship');
  const exports = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { exports: object }).exports;
  for (const target of Object.values(exports) as (string | { types: string; default: string })[]) {
    const [js, dts] = (
      typeof target === 'string' ? [target, target.replace(/\.js$/, '.d.ts')] : [target.default, target.types]
    ).map((f) => f.replace(/^\.\//, '')) as [string, string];
    assert.ok(files.includes(js), `${js} is shipped`);
    assert.ok(files.includes(dts), `its declarations ${dts} are shipped`);
  }
  for (const f of ['dist/storage/conformance.js', 'dist/transports/conformance.js', 'dist/bin/kura.js'])
    assert.ok(files.includes(f), `${f} (ocikura/testing, the kura command) is shipped`);
  assert.ok(files.includes('dist/auth/bcrypt-worker.js'), 'the password worker the bundled CLI starts is shipped');
  // Build output whose source is gone (a moved or deleted file) must not ship: every module has its source
  // (but the bundles of the main entry and of the CLI, which scripts/bundle.mjs makes from the others).
  const stale = files.filter(
    (f) =>
      f.startsWith('dist/') &&
      f.endsWith('.js') &&
      f !== 'dist/ocikura.js' &&
      !f.startsWith('dist/bin/') &&
      !existsSync(join(REPO_ROOT, 'src', f.slice(5, -3) + '.ts')) &&
      !existsSync(join(REPO_ROOT, 'src', f.slice(5, -3) + '.ts')) &&
      !existsSync(join(REPO_ROOT, 'src', f.slice(5, -3) + '.tsx')),
  );
  assert.deepEqual(stale, [], 'modules without a source in src/ (rm -rf dist and build again)');
});

test('a strict consumer type-checks against the entry points: programs, type tests, docs/library.md', () => {
  assert.equal(typeErrors, '', 'tsc of the consumer project');
});

test('every entry point loads by its package name and exports what its documentation promises', () => {
  const lines = execFileSync(process.execPath, [join(consumer.dir, 'out', 'entries.js')], { encoding: 'utf8' });
  const exported = new Map(
    lines
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf(':')), l.split(' ').slice(1)]),
  );
  const want: Record<string, string[]> = {
    ocikura: ['openLocation', 'copyImage', 'copyRepository', 'OciLayout', 'RegistryClient', 'appendLayers'],
    'ocikura/server': ['createServer', 'startServer', 'registryOptions', 'embeddedConfig', 'MemoryBlobStore'],
    'ocikura/testing': ['runTransportConformance', 'runBlobStoreConformance', 'MemoryMetadataStore'],
  };
  for (const [entry, names] of Object.entries(want))
    for (const n of names) assert.ok(exported.get(entry)?.includes(n), `${entry} exports ${n}`);
  assert.ok(!exported.get('ocikura')?.includes('createServer'), 'the root entry holds no server');
});

let kura: KuraProcess | undefined;
after(async () => kura?.stop());

test('every docs/library.md program is at most 10 lines and runs against kura serve, in order', async () => {
  assert.equal(typeErrors, '', 'the programs compile (see the type-check test)');
  const images = await loadTestImages(await makeTestImages());
  const layers = images.get('layers')!;
  kura = await startKura();
  const env = { ...process.env, REGISTRY: kura.host, IMAGE: `oci:${layers.layout}:${layers.tag}` };
  for (const p of programs) {
    assert.ok(codeLines(p.code) <= MAX_PROGRAM_LINES, `${p.name} has ${codeLines(p.code)} lines of code`);
    const cwd = join(scratch, p.name);
    mkdirSync(cwd);
    const js = join(consumer.dir, 'out', 'docs', `${p.name}.js`);
    try {
      execFileSync(process.execPath, [js], { cwd, env, encoding: 'utf8', stdio: 'pipe', timeout: 60_000 });
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; message: string };
      assert.fail(`${p.name} failed: ${x.message}\n${x.stderr ?? ''}\n--- program ---\n${p.code}`);
    }
  }
  // What the programs did, seen from outside: the copy kept the digest, the delete left v2, the build is valid.
  const repo = execFileSync('skopeo', ['list-tags', '--tls-verify=false', `docker://${kura.host}/docs/app`], {
    encoding: 'utf8',
  });
  assert.deepEqual((JSON.parse(repo) as { Tags: string[] }).Tags, ['v2']);
  const copied = programs.findIndex((p) => p.code.includes("'oci:./copy:v1'"));
  const index = JSON.parse(readFileSync(join(scratch, programs[copied]!.name, 'copy', 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  assert.equal(index.manifests[0]?.digest, layers.digest, 'layout → registry → layout kept the digest');
  const built = programs.find((p) => p.code.includes("'oci:./built:v1'"))!;
  const stat = execFileSync('umoci', ['stat', '--json', '--image', `${join(scratch, built.name, 'built')}:v1`], {
    encoding: 'utf8',
  });
  assert.ok((JSON.parse(stat) as { history: unknown[] }).history.length > 0, 'umoci reads the built image');
});
