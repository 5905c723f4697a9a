/**
 * The benchmark's "client hang", reproduced and pinned: bench/copy.mjs pushed its small source images to
 * Distribution 2.8.2 with one synchronous `kura copy` after another (execFileSync), and stopped for good at about
 * the eleventh image. The client was not at fault. Distribution logs every 404 (each HEAD of a blob it does not
 * have yet) at level error on stderr; the harness read that stderr through a pipe, and while its event loop sat
 * in execFileSync nothing drained it. Once the pipe was full, Distribution's logger blocked in write(2) holding its
 * lock, and every request that logs waited with it: no CPU, idle keep-alive connections, no upload session.
 * The helpers now give servers a log file instead of a pipe (src/test/kura-process.ts `childLog`, and
 * bench/lib/servers.mjs). This test runs the benchmark's set-up exactly; with a pipe it stops at about the
 * eleventh image and fails on the per-command timeout.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { randomImage } from '../oci/random.js';
import { OciLayout } from '../transports/layout/oci-layout.js';
import { RegistryClient } from '../transports/registry/client.js';
import { distributionMissing, startDistribution, type Distribution } from './distribution.js';
import { tempDir } from './tempdirs.js';
import { KURA_MAIN } from './kura-process.js';

const IMAGES = 8;
const LAYERS = 8;

describe(
  'pushing many small images to Distribution, one synchronous kura copy each',
  { skip: distributionMissing() },
  () => {
    let d: Distribution;
    let layout: string;
    before(async () => {
      d = await startDistribution();
      layout = tempDir('kura-distlog-');
      const l = new OciLayout(layout);
      for (let i = 0; i < IMAGES; i++) {
        const img = await randomImage({ seed: 1000 + i, layers: LAYERS, layerSize: 2048 + ((i * 7) % 20) * 1024 });
        await l.write(`small${i}`, img);
      }
    });
    after(() => d?.stop());

    test('every image arrives while this process is blocked in execFileSync', { timeout: 300_000 }, async () => {
      for (let i = 0; i < IMAGES; i++) {
        for (const dst of [`docker://${d.host}/bench/small${i}:v1`, `docker://${d.host}/bench/small:t${i}`]) {
          // A blocked registry shows as this timeout (the client would wait up to its 60 s idle timeout).
          execFileSync(process.execPath, [KURA_MAIN, 'copy', '-q', `oci:${layout}:small${i}`, dst], {
            timeout: 30_000,
            stdio: ['ignore', 'ignore', 'pipe'],
          });
        }
      }
      const client = new RegistryClient({ registry: d.host });
      assert.equal((await client.repository('bench/small').tags()).length, IMAGES);
      const last = await client.repository(`bench/small${IMAGES - 1}`).head('v1');
      assert.equal(last.descriptor.digest, (await new OciLayout(layout).get(`small${IMAGES - 1}`)).descriptor.digest);
    });
  },
);
