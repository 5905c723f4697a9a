/**
 * The package's entry points: what `import 'ocikura'` and its subpaths load, and that each resolves;
 * and that the offline maintenance commands, really run, load no HTTP layer.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { KURA_MAIN, REPO_ROOT } from './kura-process.js';
import { loadedBy, oursIn, packagesIn } from './module-load.js';
import { tempDir } from './tempdirs.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string> };

/** Server, database and test-runner code: never loaded by the model-and-transports entry. */
const SERVER_ONLY = ['fastify', 'better-sqlite3', 'zod', 'piscina', 'bcryptjs', 'jose', 'pino'];

/** What a program that only imports the entry `path` of package.json loads. */
function importOf(path: string): string[] {
  const url = pathToFileURL(join(REPO_ROOT, pkg.exports[path]!)).href;
  return loadedBy(['--input-type=module', '-e', `await import(${JSON.stringify(url)})`]);
}

test("import 'ocikura' loads the model and transports, and no server, database or test code", () => {
  const urls = importOf('.');
  const packages = packagesIn(urls).filter((p) => SERVER_ONLY.includes(p) || p.startsWith('@fastify/'));
  assert.deepEqual(packages, [], 'packages the library entry must not load');
  assert.ok(!urls.includes('node:test'), 'the library entry loads no test runner');
  const server = oursIn(urls).filter((f) => /^(http|server|registry|metadata|config|auth)\//.test(f));
  assert.deepEqual(server, [], 'server modules the library entry must not load');
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
    const mod = (await import(pathToFileURL(join(REPO_ROOT, pkg.exports[path]!)).href)) as Record<string, unknown>;
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
    const urls = loadedBy([KURA_MAIN, ...args, '--data', data]);
    const http = oursIn(urls).filter((f) => f.startsWith('http/'));
    assert.deepEqual(http, [], `kura ${args.join(' ')} loads no http/ module`);
    assert.ok(!packagesIn(urls).includes('fastify'), `kura ${args.join(' ')} does not load fastify`);
    assert.ok(oursIn(urls).includes('server/open.js'), `kura ${args.join(' ')} opened the store`);
  }
});
