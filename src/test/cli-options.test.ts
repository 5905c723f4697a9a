import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { randomImage } from '../oci/random.js';
import { OciLayout } from '../transports/oci-layout.js';
import { KURA_MAIN } from './kura-process.js';
import { tempDirs } from './tempdirs.js';

const run = promisify(execFile);
const tmp = tempDirs('kura-cli-options-');
const kura = (args: string[], cwd?: string) => run(process.execPath, [KURA_MAIN, ...args], { cwd, encoding: 'buffer', maxBuffer: 64 << 20 });

test('-o - means stdout for export and save, and no file named "-" appears', async () => {
  const dir = tmp();
  const layout = join(dir, 'layout');
  await new OciLayout(layout).write('v1', await randomImage({ seed: 5 }));
  const cwd = tmp();
  const exported = (await kura(['export', '-o', '-', `oci:${layout}:v1`], cwd)).stdout;
  assert.ok(exported.length >= 1024, 'a tar on stdout');
  assert.equal(exported.subarray(257, 262).toString(), 'ustar');
  const saved = (await kura(['save', '-o', '-', '--store', join(dir, 'store'), `oci:${layout}:v1`], cwd)).stdout;
  assert.equal(saved.subarray(257, 262).toString(), 'ustar');
  assert.equal(existsSync(join(cwd, '-')), false);
  assert.deepEqual(readdirSync(cwd), []);
});
