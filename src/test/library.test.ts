/**
 * The package's entry points: what `import 'ocikura'` and its subpaths load, and that each resolves;
 * and that the offline maintenance commands, really run, load no HTTP layer.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { KURA_UNBUNDLED, REPO_ROOT } from './kura-process.js';
import { loadedBy, oursIn, packagesIn } from './module-load.js';
import { tempDir } from './tempdirs.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
};

/** The file an entry of package.json "exports" runs (its "default" condition), relative to the root. */
function fileOf(path: string): string {
  const e = pkg.exports[path]!;
  return typeof e === 'string' ? e : e.default;
}

/** Server, database and test-runner code: never loaded by the model-and-transports entry. */
const SERVER_ONLY = ['fastify', 'better-sqlite3', 'zod', 'piscina', 'bcryptjs', 'jose', 'pino'];

/** What a program that only imports the entry `path` of package.json loads. */
function importOf(path: string): string[] {
  const url = pathToFileURL(join(REPO_ROOT, fileOf(path))).href;
  return loadedBy(['--input-type=module', '-e', `await import(${JSON.stringify(url)})`]);
}

test("import 'ocikura' loads the model and transports, and no server, database or test code", () => {
  const urls = importOf('.');
  const packages = packagesIn(urls).filter((p) => SERVER_ONLY.includes(p) || p.startsWith('@fastify/'));
  assert.deepEqual(packages, [], 'packages the library entry must not load');
  assert.ok(!urls.includes('node:test'), 'the library entry loads no test runner');
  // The entry is one bundled file (scripts/bundle.mjs); its metafile names the modules inside.
  const meta = JSON.parse(readFileSync(join(REPO_ROOT, 'dist/ocikura.meta.json'), 'utf8')) as {
    inputs: Record<string, unknown>;
  };
  const inside = Object.keys(meta.inputs).map((f) => f.replace(/^dist\//, ''));
  const ours = [...oursIn(urls).filter((f) => f !== 'ocikura.js'), ...inside];
  assert.ok(inside.includes('transports/registry/client.js'), 'the metafile lists the bundled modules');
  const server = ours.filter((f) => /^(http|server|registry|metadata|config|auth)\//.test(f));
  assert.deepEqual(server, [], 'server modules the library entry must not load');
});

test('the bundled entry exports exactly what src/index.ts does, and is built from the current dist/', async () => {
  const bundled = (await import(pathToFileURL(join(REPO_ROOT, fileOf('.'))).href)) as Record<string, unknown>;
  const modules = (await import(pathToFileURL(join(REPO_ROOT, 'dist/index.js')).href)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(bundled).sort(), Object.keys(modules).sort());
  const meta = JSON.parse(readFileSync(join(REPO_ROOT, 'dist/ocikura.meta.json'), 'utf8')) as {
    inputs: Record<string, { bytes: number }>;
  };
  const stale = Object.entries(meta.inputs).filter(([f, i]) => statSync(join(REPO_ROOT, f)).size !== i.bytes);
  assert.deepEqual(stale, [], 'modules changed since the bundle was made: run npm run build');
});

test('an OciError from the bundled entry is an OciError to the subpaths, and the other way round', async () => {
  type Mod = { OciError: new (code: string) => Error; isOciError: (e: unknown) => boolean };
  const bundled = (await import(pathToFileURL(join(REPO_ROOT, fileOf('.'))).href)) as Mod;
  const server = (await import(pathToFileURL(join(REPO_ROOT, 'dist/oci/errors.js')).href)) as Mod;
  assert.notEqual(bundled.OciError, server.OciError, 'two copies of the class');
  assert.ok(new bundled.OciError('DENIED') instanceof server.OciError);
  assert.ok(server.isOciError(new bundled.OciError('DENIED')));
  assert.ok(new server.OciError('DENIED') instanceof bundled.OciError);
  assert.ok(!(new Error('x') instanceof bundled.OciError));
  class Narrower extends server.OciError {}
  assert.ok(!(new bundled.OciError('DENIED') instanceof Narrower), 'a subclass still checks its own prototype');
});

test('the check sees what a server entry loads (so the test above can fail)', () => {
  const packages = packagesIn(importOf('./server'));
  assert.ok(packages.includes('fastify'), 'ocikura/server loads fastify');
  assert.ok(packages.includes('better-sqlite3'), 'ocikura/server loads better-sqlite3');
});

test('every subpath export resolves and exports what it promises', async () => {
  const want: Record<string, string[]> = {
    '.': ['parseImageReference', 'RegistryClient', 'OciLayout', 'DockerArchive', 'LocalStore', 'digestOf', 'readImage'],
    './server': ['startServer', 'Registry', 'SqliteMetadataStore', 'FsBlobStore', 'loadServeConfig', 'buildApp'],
    './testing': ['runBlobStoreConformance', 'runMetadataConformance', 'runTransportConformance', 'MemoryBlobStore'],
    './analysis': ['lintImage', 'diffImages', 'layersReport'],
    './sbom': ['toSpdx', 'toCycloneDx', 'renderSbom'],
    './signing': ['signImage', 'attestImage', 'verifySimpleSigning'],
  };
  assert.deepEqual(Object.keys(pkg.exports).sort(), Object.keys(want).sort());
  for (const [path, names] of Object.entries(want)) {
    const mod = (await import(pathToFileURL(join(REPO_ROOT, fileOf(path))).href)) as Record<string, unknown>;
    for (const n of names) assert.ok(n in mod, `${path} exports ${n}`);
  }
});

const data = tempDir('kura-offline-');
after(() => rmSync(data, { recursive: true, force: true }));
const config = join(data, 'kura.yml');
writeFileSync(config, 'retention:\n  rules:\n    - repositories: ["**"]\n      keepLast: 5\n');

test('the offline maintenance commands, run on a data directory, load no HTTP layer', () => {
  const runs = [
    ['gc', '--dry-run'],
    ['fsck'],
    ['usage'],
    ['policy', 'plan', '-c', config],
    ['user', 'list'],
    ['audit'],
  ];
  for (const args of runs) {
    // The module graph of the unbundled CLI (dist/cli/): the bundle of dist/bin/ names its chunks by hash.
    const urls = loadedBy([KURA_UNBUNDLED, ...args, '--data', data]);
    const http = oursIn(urls).filter((f) => f.startsWith('http/'));
    assert.deepEqual(http, [], `kura ${args.join(' ')} loads no http/ module`);
    assert.ok(!packagesIn(urls).includes('fastify'), `kura ${args.join(' ')} does not load fastify`);
    assert.ok(oursIn(urls).includes('server/open.js'), `kura ${args.join(' ')} opened the store`);
  }
});
