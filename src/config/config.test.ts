import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderConfigReference } from './docs.js';
import { SERVE_FLAGS } from './flags.js';
import { ConfigError, configKeys, loadServeConfig } from './load.js';
import { tempDir } from '../test/tempdirs.js';

test('defaults: loopback, ./data, 4 MiB manifests, delete on', () => {
  const c = loadServeConfig({});
  assert.equal(c.listen, '127.0.0.1:5000');
  assert.equal(c.data, './data');
  assert.equal(c.limits.manifestMaxBytes, 4 * 1024 * 1024);
  assert.equal(c.delete.enabled, true);
  assert.equal(c.uploads.purgeAfter, 168 * 3600 * 1000);
});

test('precedence: flags > KURA_* environment > YAML file > defaults', () => {
  const dir = tempDir('kura-config-');
  const file = join(dir, 'kura.yml');
  writeFileSync(
    file,
    'listen: 127.0.0.1:6000\ndata: /from/file\nlimits:\n  manifestMaxBytes: 1MiB\ndelete:\n  enabled: false\n',
  );
  const fileOnly = loadServeConfig({ file });
  assert.equal(fileOnly.listen, '127.0.0.1:6000');
  assert.equal(fileOnly.limits.manifestMaxBytes, 1024 * 1024);
  assert.equal(fileOnly.delete.enabled, false);
  const withEnv = loadServeConfig({
    file,
    env: { KURA_DATA: '/from/env', KURA_DELETE_ENABLED: 'true', KURA_LIMITS_MANIFEST_MAX_BYTES: '2MiB' },
  });
  assert.equal(withEnv.data, '/from/env');
  assert.equal(withEnv.delete.enabled, true);
  assert.equal(withEnv.limits.manifestMaxBytes, 2 * 1024 * 1024);
  const withFlags = loadServeConfig({
    file,
    env: { KURA_DATA: '/from/env' },
    flags: { data: '/from/flag', 'uploads.purgeAfter': '2h' },
  });
  assert.equal(withFlags.data, '/from/flag');
  assert.equal(withFlags.uploads.purgeAfter, 2 * 3600 * 1000);
  assert.equal(withFlags.listen, '127.0.0.1:6000');
});

test('bad input is refused with a message naming the key', () => {
  assert.throws(
    () => loadServeConfig({ flags: { 'limits.manifestMaxBytes': 'huge' } }),
    (e: unknown) => e instanceof ConfigError && /limits\.manifestMaxBytes/.test(e.message),
  );
  assert.throws(() => loadServeConfig({ env: { KURA_UPLOADS_PURGE_AFTER: 'soon' } }), /invalid duration "soon"/);
  assert.throws(() => loadServeConfig({ flags: { nonsense: '1' } }), /Unrecognized key/);
  const dir = tempDir('kura-config-');
  writeFileSync(join(dir, 'bad.yml'), 'listen: [unclosed');
  assert.throws(() => loadServeConfig({ file: join(dir, 'bad.yml') }), /not valid YAML/);
  assert.throws(() => loadServeConfig({ file: join(dir, 'missing.yml') }), /cannot read config file/);
});

test('src/config/flags.ts (the flags of kura serve) is generated from the schema and up to date', () => {
  const want = configKeys().map((k) => ({ path: k.path, flag: k.flag, description: k.description }));
  assert.deepEqual(SERVE_FLAGS, want, 'run: npm run build && node scripts/gen-config-docs.mjs && npm run build');
});

test('docs/configuration.md is generated from the schema and up to date', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(doc, renderConfigReference(), 'run: npm run build && node scripts/gen-config-docs.mjs');
});

test('durations: units, and a bare number of seconds from any source', () => {
  assert.equal(loadServeConfig({ flags: { 'gc.interval': '0' } }).gc.interval, 0);
  assert.equal(loadServeConfig({ flags: { 'gc.interval': '90' } }).gc.interval, 90_000);
  assert.equal(loadServeConfig({ env: { KURA_GC_GRACE: '250ms', KURA_GC_ALLOW_SHORT_GRACE: 'true' } }).gc.grace, 250);
  assert.equal(loadServeConfig({ flags: { 'gc.grace': '2d' } }).gc.grace, 2 * 86_400_000);
});

test('gc.grace under one minute is refused, saying why, unless gc.allowShortGrace forces it', () => {
  assert.throws(
    () => loadServeConfig({ flags: { 'gc.grace': '30s' } }),
    /gc\.grace.*under one minute.*MANIFEST_BLOB_UNKNOWN.*allowShortGrace/,
  );
  assert.equal(loadServeConfig({ flags: { 'gc.grace': '1m' } }).gc.grace, 60_000);
  assert.equal(loadServeConfig({ flags: { 'gc.grace': '30s', 'gc.allowShortGrace': 'true' } }).gc.grace, 30_000);
});
