// kura import --from-distribution: a storage tree written by Distribution 2.8.2 (several repositories, an index, a
// deleted tag, a shared blob) imported into a data directory; kura serve then serves every tag at the same digest.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { randomImage, randomIndex } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/client.js';
import { distributionMissing, startDistribution } from './distribution.js';
import { kuraOk, runKura } from './helpers.js';
import { hasTool, startKura } from './kura-process.js';
import { tempDirs } from './tempdirs.js';

const exec = promisify(execFile);
const tempDir = tempDirs('kura-import-dist-');
const skip = distributionMissing() ?? (hasTool('skopeo') ? undefined : 'skopeo is missing (apt-get install skopeo)');

/** The registry:2 tree every test reads: written once by a real Distribution, then the registry stopped. */
let treeDir: string | undefined;
after(() => treeDir && rmSync(treeDir, { recursive: true, force: true }));
let written: Promise<{ root: string; tags: Map<string, string>; gone: string }> | undefined;
function distributionTree() {
  written ??= (async () => {
    const dist = await startDistribution({ keepData: true });
    treeDir = join(dist.rootDirectory, '..');
    const tags = new Map<string, string>();
    try {
      const client = new RegistryClient({ registry: dist.host });
      const shared = await randomImage({ seed: 90, layers: 2 });
      for (const [repo, tag, art] of [
        ['apps/web', 'v1', shared],
        ['apps/web', 'v2', await randomImage({ seed: 91, layers: 1 })],
        ['apps/web-copy', 'latest', shared], // the same blobs in a second repository
        ['multi', '1.0', await randomIndex({ seed: 92 })],
        ['deep/nested/name', 'x', await randomImage({ seed: 93, layers: 3, format: 'docker' })],
      ] as const) {
        const d = await client.repository(repo).write(tag, art);
        tags.set(`${repo}:${tag}`, d.digest);
      }
      // A tag deleted in registry:2 (by deleting its manifest): it must not come back.
      const doomed = await client.repository('apps/web').write('doomed', await randomImage({ seed: 94, layers: 1 }));
      await client.repository('apps/web').deleteManifest(doomed.digest);
      return { root: dist.rootDirectory, tags, gone: doomed.digest };
    } finally {
      await dist.stop();
    }
  })();
  return written;
}

test(
  'import --from-distribution brings every tag over at its digest; kura serve serves them to skopeo',
  { skip },
  async () => {
    const { root, tags, gone } = await distributionTree();
    const data = tempDir();
    const first = await kuraOk(['import', '--from-distribution', root, '--data', data, '--json']);
    const s = JSON.parse(first.stdout) as {
      repositories: number;
      tags: number;
      manifests: number;
      blobs: number;
      mounted: number;
      bytes: number;
      skipped: number;
      errors: unknown[];
    };
    assert.deepEqual(s.errors, []);
    assert.equal(s.repositories, 4);
    assert.equal(s.tags, tags.size);
    assert.equal(
      s.manifests,
      4 + 3,
      'an image per repository tag, the index and its two children; not the deleted one',
    );
    assert.ok(s.mounted >= 3, 'apps/web-copy mounted the shared config and layers instead of hashing them again');
    assert.ok(s.blobs > 0 && s.bytes > 0);
    assert.equal(s.skipped, 0);

    // Resumable: a second run finds everything there.
    const again = await kuraOk(['import', '--from-distribution', root, '--data', data]);
    assert.match(
      again.stdout,
      /4 repositories, 0 tags, 0 manifests, 0 blobs \(0 bytes\), 0 blobs mounted, \d+ already/,
    );
    assert.match(again.stderr, /kura import: apps\/web: 0 blobs, 0 manifests, 0 tags, \d+ skipped/);

    const kura = await startKura({ dataDir: data });
    try {
      for (const [ref, digest] of tags) {
        const [repo, tag] = ref.split(':') as [string, string];
        const head = await fetch(`${kura.url}/v2/${repo}/manifests/${tag}`, {
          method: 'HEAD',
          headers: { accept: '*/*' },
        });
        assert.equal(head.status, 200, ref);
        assert.equal(head.headers.get('docker-content-digest'), digest, ref);
        const out = join(tempDir(), 'layout');
        await exec('skopeo', [
          'copy',
          '-q',
          '--all',
          '--preserve-digests',
          '--src-tls-verify=false',
          `docker://${kura.host}/${ref}`,
          `oci:${out}`,
        ]);
        const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
        assert.equal(index.manifests[0]!.digest, digest, `${ref} pulled by skopeo at the same digest`);
      }
      const doomed = await fetch(`${kura.url}/v2/apps/web/manifests/doomed`, { method: 'HEAD' });
      assert.equal(doomed.status, 404, 'the deleted tag stays deleted');
      assert.equal((await fetch(`${kura.url}/v2/apps/web/manifests/${gone}`, { method: 'HEAD' })).status, 404);
    } finally {
      await kura.stop();
    }
  },
);

test(
  'import --from-distribution reports a corrupt blob, imports the rest, and a re-run after the fix completes',
  { skip },
  async () => {
    const { root, tags } = await distributionTree();
    const copy = join(tempDir(), 'registry');
    cpSync(root, copy, { recursive: true });
    // Corrupt one layer of deep/nested/name (only that repository links it).
    const layers = join(copy, 'docker/registry/v2/repositories/deep/nested/name/_layers/sha256');
    const hex = readdirSync(layers).sort()[0]!;
    const data = join(copy, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const good = readFileSync(data);
    writeFileSync(data, Buffer.concat([good, Buffer.from('tampered')]));
    const into = tempDir();
    const bad = await runKura(['import', '--from-distribution', copy, '--data', into]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, new RegExp(`kura import: deep/nested/name: sha256:${hex}: .*digest`, 'i'));
    assert.match(bad.stderr, /kura: error: \d+ items were not imported .*run the same command again/);
    assert.match(bad.stdout, /4 repositories, 4 tags, 6 manifests, .* 3 errors/, 'the other repositories came over');
    writeFileSync(data, good);
    const fixed = await kuraOk(['import', '--from-distribution', copy, '--data', into, '--json']);
    const s = JSON.parse(fixed.stdout) as { tags: number; blobs: number; errors: unknown[] };
    assert.deepEqual(s.errors, []);
    assert.equal(s.tags, 1, 'only the tag left behind');
    assert.equal(s.blobs, 1, 'only the blob left behind');
    assert.ok(tags.has('deep/nested/name:x'));
  },
);

test('import --from-distribution refuses a directory that is no registry:2 storage, and stray flags', async () => {
  const empty = tempDir();
  const r = await runKura(['import', '--from-distribution', empty, '--data', join(empty, 'data')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^kura: error: .* holds no registry:2 storage .*rootdirectory/m);
  assert.deepEqual(readdirSync(empty), [], 'no data directory made');
  const stray = await runKura(['import', '--data', empty]);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /kura: error: --to and --data go with --from-distribution DIR/);
  const none = await runKura(['import']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /kura: error: kura import needs a FILE/);
});
