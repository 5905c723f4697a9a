import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
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
  registry: ['oci', 'storage', 'metadata'],
  http: ['oci', 'registry', 'config', 'auth', 'analysis', 'signing'],
  web: ['oci', 'http'],
  cli: ['*'],
  test: ['*'],
  '.': ['*'],
};
/** The composition root may wire concrete stores into the server. */
const EXCEPTIONS: Record<string, readonly string[]> = {
  'http/server.ts': ['storage', 'metadata'],
};
/** npm packages that carry server HTTP concepts: only http/ and cli/ (and tests) may use them. */
const HTTP_PACKAGES = ['fastify'];

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) yield p;
  }
}

function moduleOf(rel: string): string {
  const i = rel.indexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

/** Import violations in one file's text, given its path relative to src/. */
export function violations(rel: string, text: string): string[] {
  const out: string[] = [];
  const from = moduleOf(rel);
  const isTest = rel.endsWith('.test.ts') || rel.startsWith('test/');
  const allowed = [...(ALLOWED[from] ?? []), ...(EXCEPTIONS[rel] ?? [])];
  const re = /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2]!;
    if (spec.startsWith('.')) {
      const target = relative(srcDir, resolve(srcDir, dirname(rel), spec));
      const to = moduleOf(target);
      if (to === from || isTest || allowed.includes('*') || allowed.includes(to)) continue;
      out.push(`${rel} imports ${spec} (module ${to}); ${from}/ may import only: ${allowed.join(', ') || 'nothing of ours'}`);
    } else if (!isTest && from !== 'http' && from !== 'cli' && HTTP_PACKAGES.some((p) => spec === p || spec.startsWith(p + '/'))) {
      out.push(`${rel} imports ${spec}; only http/ and cli/ may use HTTP frameworks`);
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
  assert.equal(violations('http/server.ts', "import { FsBlobStore } from '../storage/fs.js';").length, 0);
  assert.equal(violations('http/v2.ts', "import { FsBlobStore } from '../storage/fs.js';").length, 1);
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
      return !min || (Number(min[1]) <= 20 && (!max || Number(max[1]) > 20) && !/^\s*(\d+)\.x/.test(alt)) || /^\s*20\.x/.test(alt.trim());
    });
    if (!admits20) tooNew.push(`${path.replace(/^node_modules\//, '')}@${pkg.version}: engines.node "${range}"`);
  }
  assert.deepEqual(tooNew, []);
});
