#!/usr/bin/env node
// Bundles the library's main entry (`import 'ocikura'`: the model and the transports) from tsc's
// output into one file, dist/ocikura.js, which package.json "exports" maps "." to. Node 20 pays
// about 0.7 ms for each ES module it loads, and the entry spans some sixty of ours: bundled, the
// import costs less than half (docs/benchmarks.md, "Start-up"). Dependencies stay external.
//
// The subpaths (ocikura/server, /testing, /analysis, /sbom, /signing) and the CLI stay unbundled:
// they load their own modules lazily and are not dominated by start-up. So a program that imports
// both `ocikura` and a subpath holds two copies of the model; the errors they throw are recognised
// across copies (OciError's instanceof checks a registered symbol, src/oci/errors.ts).
//
//   npm run build        (tsc, then this script)
//
// dist/ocikura.meta.json is esbuild's metafile: which of our modules the bundle holds. The
// library test reads it to check that the entry holds no server code.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');

const result = await build({
  entryPoints: [path.join(dist, 'index.js')],
  outfile: path.join(dist, 'ocikura.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  metafile: true,
  logLevel: 'warning',
});
writeFileSync(path.join(dist, 'ocikura.meta.json'), JSON.stringify(result.metafile));
