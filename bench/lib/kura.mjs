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

/**
 * A line for a start-up table when NODE_EXTRA_CA_CERTS is set: Node 20 reads and parses that file in every
 * process at start (on this build machine, a CA bundle set by the environment: about 50 ms of `node -e 0`).
 */
export function extraCaNote() {
  const f = process.env.NODE_EXTRA_CA_CERTS;
  return f
    ? `NODE_EXTRA_CA_CERTS=${f} is set: every Node process here, bare Node included, reads it at start; ` +
        'run under `env -u NODE_EXTRA_CA_CERTS` to measure without it'
    : 'NODE_EXTRA_CA_CERTS is not set';
}
