/** Test helper (not a test): temporary directories for one test file, all removed when it ends. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Returns a function that makes a new directory under the system's temp dir on each call. */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

/** Directories made by tempDir: removed when the test file's process exits, however it ends. */
const made = new Set<string>();
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
});

/**
 * A new directory under the system's temp dir, removed when the test file's process exits. Usable
 * anywhere (module scope, hooks, tests), unlike tempDirs, which registers an `after` hook.
 */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.add(d);
  return d;
}
