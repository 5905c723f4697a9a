// The Kura CLI the benchmarks run: the bundle users get from `npm install` (package.json "bin"),
// made by `npm run build`. KURA_BENCH_MAIN names another build (e.g. an older commit's dist/cli/main.js).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const KURA = process.env.KURA_BENCH_MAIN ?? fileURLToPath(new URL('../../dist/bin/kura.js', import.meta.url));

/** KURA, after checking it was built. */
export function kuraMain() {
  if (!existsSync(KURA)) throw new Error(`${KURA} not found (build Kura first: npm run build)`);
  return KURA;
}
