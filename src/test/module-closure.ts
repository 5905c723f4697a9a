/**
 * Test helper (not a test): the modules an ES module loads at import time, read from the compiled
 * JavaScript: static `import`/`export … from` and bare `import 'x'`, followed through relative files.
 * Dynamic `import()` and `createRequire` calls run only when called, so they are not part of it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const STATIC = /^\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;

/** The files (absolute paths) and packages (bare specifiers, `node:` ones included) loaded by `entry`. */
export function moduleClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!existsSync(target)) throw new Error(`${file} imports ${spec}, which does not exist`);
        todo.push(target);
      } else {
        packages.add(packageName(spec));
      }
    }
  }
  return { files, packages };
}

/** `@scope/pkg/sub` → `@scope/pkg`, `pkg/sub` → `pkg`, `node:fs/promises` → `node:fs/promises`. */
function packageName(spec: string): string {
  if (spec.startsWith('node:')) return spec;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
