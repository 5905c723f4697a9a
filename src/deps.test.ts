import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The import rules of docs/architecture.md, enforced on the TypeScript sources.
 * Keys are modules (folders under src/); values are the modules each may import.
 */
export const ALLOWED: Record<string, readonly string[]> = {
  oci: [],
  auth: ['oci'],
  config: ['oci', 'auth'],
  storage: ['oci'],
  metadata: ['oci'],
  transports: ['oci'],
  analysis: ['oci'],
  signing: ['oci', 'transports'],
  sbom: ['oci', 'transports', 'analysis'],
  scan: ['oci', 'sbom'],
  registry: ['oci', 'storage', 'metadata'],
  http: ['oci', 'registry', 'config', 'auth', 'analysis', 'signing'],
  web: ['oci', 'http'],
  sync: ['oci', 'transports', 'signing'],
  build: ['oci'],
  ci: [],
  // Moving data in (registry:2 storage) and between opened stores; the CLI opens the stores for it.
  migrate: ['oci', 'registry', 'storage', 'metadata'],
  proxy: ['oci', 'registry', 'transports'],
  // Replication rules of kura serve: the sync engine over the server's own content.
  replication: ['oci', 'sync', 'transports'],
  // The web UI: pages over the registry services and metadata roles, with the registry's own identities.
  ui: ['oci', 'registry', 'metadata', 'analysis', 'auth', 'sbom'],
  // The composition root: builds a server from configuration (one layer under cli).
  server: [
    'oci',
    'http',
    'registry',
    'storage',
    'metadata',
    'config',
    'auth',
    'proxy',
    'ui',
    'scan',
    'replication',
    'events',
  ],
  // Webhook events: builds Distribution's events for the registry's changes, delivers them from the outbox.
  events: ['oci', 'registry', 'metadata'],
  cli: ['*'],
  test: ['*'],
  '.': ['*'],
};
/** Single files allowed an arrow their module is not (the composition root is its own module). */
const EXCEPTIONS: Record<string, readonly string[]> = {
  // Scan on push (`kura serve`): reads images through the Registry, keeps results in the metadata scans role.
  'scan/registry/scanner.ts': ['registry', 'metadata', 'analysis'],
  'scan/registry/policy.ts': ['registry', 'metadata'],
  'scan/registry/index.ts': ['registry', 'metadata'],
};

/**
 * npm packages each module's non-test files may load (statically, dynamically or through
 * createRequire); `node:` built-ins are free, tests may use any dependency. `@scope/*` admits a scope.
 * Derived from the imports of the structure step; a new package gets its row here on purpose.
 */
export const PACKAGES: Record<string, readonly string[]> = {
  oci: ['fzstd', 'tar-stream'],
  auth: ['bcryptjs', 'jose', 'picomatch', 'piscina', 'zod'],
  config: ['zod', 'yaml', 'semver'],
  storage: ['@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner'],
  metadata: ['better-sqlite3', 'pg'],
  transports: ['tar-stream'],
  analysis: ['tar-stream', 'picomatch', 'yaml'],
  build: ['tar-stream'],
  signing: ['tweetnacl', '@sigstore/*'],
  sbom: ['tar-stream', '@cyclonedx/cyclonedx-library', 'packageurl-js', 'better-sqlite3'],
  scan: ['zod', 'semver', '@renovatebot/pep440', 'ae-cvss-calculator', 'fflate', 'packageurl-js', 'better-sqlite3'],
  registry: ['picomatch', 'semver', 'bcryptjs'],
  http: ['fastify', '@fastify/*', 'zod'],
  web: ['fastify', '@fastify/*'],
  sync: ['yaml', 'semver'],
  server: ['fastify', '@fastify/*', 'prom-client'],
  migrate: [],
  ci: ['semver', '@renovatebot/pep440'],
  proxy: [],
  replication: ['picomatch'],
  events: [],
  ui: ['fastify', 'preact', 'preact-render-to-string'],
  cli: ['commander'],
  test: ['*'],
  '.': [],
};
/**
 * Packages held to some files of their module: a database driver belongs to its store
 * implementation (metadata/sqlite*), and to the rpm cataloger, which reads an image's rpmdb.sqlite.
 */
const PACKAGE_FILES: Record<string, readonly string[]> = {
  'better-sqlite3': ['metadata/sqlite', 'sbom/rpm.ts', 'scan/db.ts'],
  '@aws-sdk/client-s3': ['storage/s3'],
  '@aws-sdk/s3-request-presigner': ['storage/s3'],
  pg: ['metadata/postgres'],
};

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if ((p.endsWith('.ts') || p.endsWith('.tsx')) && !p.endsWith('.d.ts')) yield p;
  }
}

function moduleOf(rel: string): string {
  const i = rel.indexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

/** The package a bare specifier names: `@scope/name` or `name`, without a subpath. */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** A string that can be a module specifier (not a message that happens to sit in quotes). */
const SPECIFIER = /^(?:\.{1,2}\/[^\s]*|(?:@[a-z0-9][\w.~-]*\/)?[a-z0-9][\w.~-]*(?:\/[^\s]*)?)$/i;

/**
 * Every module specifier a file's text loads: static imports and re-exports, bare side-effect
 * imports (`import 'x'`), dynamic `import('x')`, and `require('x')` / `createRequire(...)('x')`.
 * Comment lines are skipped, so prose that quotes a specifier counts for nothing.
 */
export function specifiers(text: string): string[] {
  const code = text
    .split('\n')
    .filter((l) => !/^\s*(?:\/\/|\/?\*)/.test(l))
    .join('\n');
  const re = new RegExp(
    [
      /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/.source,
      /(?:^|\n)\s*import\s+['"]([^'"]+)['"]/.source,
      /\bimport\(\s*['"]([^'"]+)['"]\s*\)/.source,
      /\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/.source,
      /\)\(\s*['"]([^'"]+)['"]\s*\)/.source,
    ].join('|'),
    'g',
  );
  const out: string[] = [];
  for (const m of code.matchAll(re)) {
    const spec = m.slice(1).find((g) => g !== undefined)!;
    if (SPECIFIER.test(spec)) out.push(spec);
  }
  return out;
}

/** Import violations in one file's text, given its path relative to src/. */
export function violations(rel: string, text: string): string[] {
  const out: string[] = [];
  const from = moduleOf(rel);
  const isTest = rel.endsWith('.test.ts') || rel.startsWith('test/');
  const allowed = [...(ALLOWED[from] ?? []), ...(EXCEPTIONS[rel] ?? [])];
  for (const spec of specifiers(text)) {
    if (spec.startsWith('.')) {
      const target = relative(srcDir, resolve(srcDir, dirname(rel), spec));
      if (target.startsWith('..')) continue; // outside src/ (the native helper's build output)
      const to = moduleOf(target);
      if (to === from || isTest || allowed.includes('*') || allowed.includes(to)) continue;
      const may = allowed.join(', ') || 'nothing of ours';
      out.push(`${rel} imports ${spec} (module ${to}); ${from}/ may import only: ${may}`);
      continue;
    }
    if (isTest || spec.startsWith('node:') || isBuiltin(spec)) continue;
    const pkg = packageOf(spec);
    const mayUse = PACKAGES[from] ?? [];
    const scope = pkg.startsWith('@') ? `${pkg.split('/')[0]}/*` : null;
    if (!mayUse.includes('*') && !mayUse.includes(pkg) && !(scope && mayUse.includes(scope))) {
      out.push(
        `${rel} loads the npm package ${pkg}; ${from}/ may use only: ${mayUse.join(', ') || 'none'} (src/deps.test.ts)`,
      );
      continue;
    }
    const files = PACKAGE_FILES[pkg];
    if (files && !files.some((f) => rel.startsWith(f))) {
      out.push(`${rel} loads ${pkg}, which only ${files.join(', ')} may load`);
    }
  }
  return out;
}

test('every module imports only what docs/architecture.md allows', () => {
  const all: string[] = [];
  for (const file of walk(srcDir)) {
    const rel = relative(srcDir, file);
    all.push(...violations(rel, readFileSync(file, 'utf8')));
  }
  assert.deepEqual(all, []);
});

test('the rule checker catches a forbidden import', () => {
  assert.equal(violations('oci/x.ts', "import { Registry } from '../registry/registry.js';").length, 1);
  assert.equal(violations('registry/x.ts', "import Fastify from 'fastify';").length, 1);
  assert.equal(violations('storage/x.ts', "import type { MetadataStore } from '../metadata/types.js';").length, 1);
  assert.equal(violations('registry/x.ts', "import { OciError } from '../oci/errors.js';").length, 0);
  assert.equal(violations('server/stores.ts', "import { FsBlobStore } from '../storage/fs.js';").length, 0);
  assert.equal(violations('http/app.ts', "import { FsBlobStore } from '../storage/fs.js';").length, 1);
  assert.equal(violations('http/v2.ts', "import { FsBlobStore } from '../storage/fs.js';").length, 1);
});

test('a planted forbidden file is reported: packages, createRequire, side-effect and dynamic imports', () => {
  const planted = [
    "import Database from 'better-sqlite3';",
    "import { buildApp } from '../http/app.js';",
    "import 'commander';",
    "const { z } = await import('zod');",
    "import { createRequire } from 'node:module';",
    "const fastify = createRequire(import.meta.url)('fastify');",
    'const require = createRequire(import.meta.url);',
    "const tar = require('tar-stream/package.json');",
    "// import 'jose' in a comment loads nothing",
    "throw new Error(f()('unsupported algorithm'));",
  ].join('\n');
  assert.deepEqual(violations('oci/x.ts', planted), [
    'oci/x.ts loads the npm package better-sqlite3; oci/ may use only: fzstd, tar-stream (src/deps.test.ts)',
    'oci/x.ts imports ../http/app.js (module http); oci/ may import only: nothing of ours',
    'oci/x.ts loads the npm package commander; oci/ may use only: fzstd, tar-stream (src/deps.test.ts)',
    'oci/x.ts loads the npm package zod; oci/ may use only: fzstd, tar-stream (src/deps.test.ts)',
    'oci/x.ts loads the npm package fastify; oci/ may use only: fzstd, tar-stream (src/deps.test.ts)',
  ]);
  // The same file is fine where those arrows are allowed... except the driver, which stays in its store.
  assert.deepEqual(violations('cli/x.ts', "import Database from 'better-sqlite3';"), [
    'cli/x.ts loads the npm package better-sqlite3; cli/ may use only: commander (src/deps.test.ts)',
  ]);
  assert.deepEqual(violations('metadata/helpers.ts', "import Database from 'better-sqlite3';"), [
    'metadata/helpers.ts loads better-sqlite3, which only metadata/sqlite, sbom/rpm.ts, scan/db.ts may load',
  ]);
  assert.deepEqual(violations('metadata/sqlite/blobs.ts', "import type { Database } from 'better-sqlite3';"), []);
  // Scopes, built-ins and tests.
  assert.deepEqual(
    violations('http/x.ts', "import cors from '@fastify/cors';\nimport { readFile } from 'fs/promises';"),
    [],
  );
  assert.equal(violations('registry/x.ts', "import x from '@fastify/cors';").length, 1);
  assert.deepEqual(
    violations('oci/x.test.ts', "import Ajv from 'ajv';\nimport { buildApp } from '../http/app.js';"),
    [],
  );
});

test('the composition root (server/) may wire http, registry, stores, config and auth, and nothing wires it', () => {
  const wiring = ['http/app', 'registry/registry', 'storage/fs', 'metadata/sqlite', 'config/schema', 'auth/access'];
  for (const m of wiring) assert.deepEqual(violations('server/x.ts', `import { x } from '../${m}.js';`), [], m);
  assert.equal(violations('server/x.ts', "import { x } from '../cli/main.js';").length, 1);
  assert.equal(violations('http/x.ts', "import { x } from '../server/index.js';").length, 1);
  assert.deepEqual(violations('cli/serve.ts', "import { x } from '../server/index.js';"), []);
});

test('no installed dependency requires a Node.js newer than 20 (the floor)', () => {
  const lock = JSON.parse(readFileSync(resolve(srcDir, '../package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
  };
  const tooNew: string[] = [];
  for (const [path, pkg] of Object.entries(lock.packages)) {
    const range = !Array.isArray(pkg.engines) ? pkg.engines?.node : undefined;
    if (!range) continue;
    // Every alternative of the range must not start above 20 for Node 20 to be admitted by one of them.
    const admits20 = range.split('||').some((alt) => {
      const min = /(?:>=?|\^|~)?\s*v?(\d+)/.exec(alt.trim());
      const max = /<\s*v?(\d+)/.exec(alt);
      return (
        !min ||
        (Number(min[1]) <= 20 && (!max || Number(max[1]) > 20) && !/^\s*(\d+)\.x/.test(alt)) ||
        /^\s*20\.x/.test(alt.trim())
      );
    });
    if (!admits20) tooNew.push(`${path.replace(/^node_modules\//, '')}@${pkg.version}: engines.node "${range}"`);
  }
  assert.deepEqual(tooNew, []);
});
