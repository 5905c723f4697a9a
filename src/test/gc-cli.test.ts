import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { startKura } from './kura-process.js';
import { kuraRunner } from './helpers.js';

const run = promisify(execFile);
const kura = kuraRunner();

test(
  'kura gc --grace 0s after deleting the only image removes its layers and config too; a longer grace says what ' +
    'it kept and why',
  async () => {
    const server = await startKura();
    const img = await randomImage({ seed: 44, layers: 2 });
    const repo = new RegistryClient({ registry: server.host }).repository('gc/only');
    await repo.write('v1', img);
    await repo.delete(img.descriptor.digest);
    await server.stop();
    const data = server.dataDir;

    // The manifest's own bytes, its config and two layers.
    const kept = await kura('gc', '--data', data, '--dry-run');
    assert.equal(kept.stdout, '', 'the default grace (1h) keeps the fresh blobs');
    assert.match(kept.stderr, /would delete 0 blobs/);
    assert.match(
      kept.stderr,
      /kept 4 unreferenced blobs \(\d+ bytes\): uploaded, mounted or read within the grace period \(1h\); lower it with --grace/,
    );

    const r = await kura('gc', '--data', data, '--grace', '0s');
    const deleted = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t')[0]);
    assert.equal(deleted.length, 4, r.stdout + r.stderr);
    const manifest = JSON.parse(img.manifest.toString()) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    assert.deepEqual(
      new Set(deleted),
      new Set([img.descriptor.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]),
    );
    assert.match(r.stderr, /deleted 4 blobs/);
    assert.doesNotMatch(r.stderr, /kept/);
    const json = JSON.parse((await kura('gc', '--data', data, '--grace', '0s', '--json')).stdout) as {
      blobs: unknown[];
      kept: unknown[];
      graceMs: number;
    };
    assert.deepEqual([json.blobs.length, json.kept.length, json.graceMs], [0, 0, 0]);
  },
);
