/**
 * Test helper (not a test): the modules a real process loads, recorded by the resolve hook of
 * module-trace.ts (every ESM import and import() of ours and of the packages we import).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TRACE = fileURLToPath(new URL('./module-trace.js', import.meta.url));

/** The module URLs `node ARGS` resolves, after checking that it succeeded. */
export function loadedBy(nodeArgs: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kura-trace-'));
  try {
    const file = join(dir, 'modules');
    const r = spawnSync(process.execPath, ['--import', TRACE, ...nodeArgs], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env, KURA_MODULE_TRACE: file },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `node ${nodeArgs.join(' ')}: ${r.stderr}`);
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The npm packages among module URLs, by name (`@scope/name` for scoped ones). */
export function packagesIn(urls: string[]): string[] {
  const names = urls.flatMap((u) => {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
    return m ? [m[1]!] : [];
  });
  return [...new Set(names)].sort();
}

/** Our modules among module URLs, relative to dist/. */
export function oursIn(urls: string[]): string[] {
  return [...new Set(urls.filter((u) => u.includes('/dist/')).map((u) => u.split('/dist/')[1]!))].sort();
}
