/** The package's entry points: what `import 'ocikura'` and its subpaths load, and that each resolves. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { moduleClosure } from './module-closure.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string> };

/** Server, database and test-runner code: never loaded by the model-and-transports entry. */
const SERVER_ONLY = ['fastify', 'better-sqlite3', 'zod', 'piscina', 'bcryptjs', 'jose', 'node:test', 'pino'];

test("import 'ocikura' loads the model and transports, and no server, database or test code", () => {
  const { files, packages } = moduleClosure(join(root, pkg.exports['.']!));
  const loaded = [...packages].filter((p) => SERVER_ONLY.includes(p) || p.startsWith('@fastify/'));
  assert.deepEqual(loaded, [], 'packages the library entry must not load');
  const serverFiles = [...files]
    .map((f) => relative(join(root, 'dist'), f))
    .filter((f) => /^(http|server|registry|metadata|config|auth)\//.test(f));
  assert.deepEqual(serverFiles, [], 'server modules the library entry must not load');
});

test('the checker sees what a server entry loads (so the test above can fail)', () => {
  const { packages } = moduleClosure(join(root, pkg.exports['./server']!));
  assert.ok(packages.has('fastify'), 'ocikura/server loads fastify');
  assert.ok(packages.has('better-sqlite3'), 'ocikura/server loads better-sqlite3');
});

test('every subpath export resolves and exports what it promises', async () => {
  const want: Record<string, string[]> = {
    '.': ['parseImageReference', 'RegistryClient', 'OciLayout', 'DockerArchive', 'LocalStore', 'digestOf'],
    './server': ['startServer', 'Registry', 'SqliteMetadataStore', 'FsBlobStore', 'loadServeConfig', 'buildApp'],
    './testing': ['runBlobStoreConformance', 'runMetadataConformance', 'runTransportConformance', 'MemoryBlobStore'],
    './analysis': ['lintImage', 'diffImages', 'layersReport'],
    './sbom': ['toSpdx', 'toCycloneDx'],
    './signing': ['signImage', 'attestImage', 'verifySimpleSigning'],
  };
  assert.deepEqual(Object.keys(pkg.exports).sort(), Object.keys(want).sort());
  for (const [path, names] of Object.entries(want)) {
    const mod = (await import(join(root, pkg.exports[path]!))) as Record<string, unknown>;
    for (const n of names) assert.ok(n in mod, `${path} exports ${n}`);
  }
});

test('the offline maintenance commands open the stores without loading the HTTP layer', () => {
  const cliDir = join(root, 'dist', 'cli');
  const find = (name: string): string => {
    const hit = readdirSync(cliDir, { recursive: true, encoding: 'utf8' }).find(
      (f) => f.split('/').pop() === `${name}.js`,
    );
    assert.ok(hit, `dist/cli has ${name}.js`);
    return join(cliDir, hit);
  };
  for (const command of ['gc', 'fsck', 'usage', 'policy', 'accounts', 'audit']) {
    const { files, packages } = moduleClosure(find(command));
    const http = [...files].map((f) => relative(join(root, 'dist'), f)).filter((f) => f.startsWith('http/'));
    assert.deepEqual(http, [], `kura ${command} loads no http/ module`);
    assert.ok(!packages.has('fastify'), `kura ${command} does not load fastify`);
  }
});
