import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { loadTestImages, makeTestImages, KURA_MAIN, type TestImage } from './kura-process.js';
import { tempDir } from './tempdirs.js';
import { kuraOk } from './helpers.js';

const run = promisify(execFile);
let images: Map<string, TestImage>;
before(async () => {
  images = await loadTestImages(await makeTestImages());
});

function kuraIn(store: string) {
  return (...args: string[]) => kuraOk([...args, '--store', store], { env: { ...process.env, CI: '1' } });
}
const diffIds = async (loc: string) =>
  JSON.parse((await run('skopeo', ['inspect', '--config', loc])).stdout).rootfs.diff_ids as string[];

test('save writes several images into one archive skopeo reads; load brings them back under their names', async () => {
  const dir = tempDir('kura-save-');
  const store = join(dir, 'store');
  const kura = kuraIn(store);
  const tiny = images.get('tiny')!;
  const layers = images.get('layers')!;
  // Into the local store by copy (the store is a location too), then save both by name.
  await kura('copy', '-q', `oci:${tiny.layout}:${tiny.tag}`, 'local:example.com/tiny:v1');
  await kura('copy', '-q', `oci:${layers.layout}:${layers.tag}`, 'local:example.com/layers:v2');
  await kura('save', '-q', '-o', join(dir, 'both.tar'), 'example.com/tiny:v1', 'example.com/layers:v2');
  assert.deepEqual(
    await diffIds(`docker-archive:${dir}/both.tar:example.com/tiny:v1`),
    await diffIds(`oci:${tiny.layout}:${tiny.tag}`),
  );
  assert.deepEqual(
    await diffIds(`docker-archive:${dir}/both.tar:example.com/layers:v2`),
    await diffIds(`oci:${layers.layout}:${layers.tag}`),
  );
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.tmp')),
    [],
    'no temporary files left',
  );

  const other = join(dir, 'store2');
  const out = (await kuraIn(other)('load', '-i', join(dir, 'both.tar'))).stdout;
  assert.equal(out, 'Loaded image: example.com/tiny:v1\nLoaded image: example.com/layers:v2\n');
  const listed = (await kuraIn(other)('images', '--format', '{{.Repository}}:{{.Tag}}')).stdout
    .trim()
    .split('\n')
    .sort();
  assert.deepEqual(listed, ['example.com/layers:v2', 'example.com/tiny:v1']);

  // A zstd-compressed save loads from stdin.
  await kura('save', '-q', '-o', join(dir, 'tiny.tar.zst'), 'example.com/tiny:v1');
  const third = join(dir, 'store3');
  const r = spawnSync(process.execPath, [KURA_MAIN, 'load', '--store', third], {
    input: (await import('node:fs')).readFileSync(join(dir, 'tiny.tar.zst')),
  });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(r.stdout.toString(), 'Loaded image: example.com/tiny:v1\n');
});

test(
  'load reads a skopeo-made docker-archive; save of an unknown image fails in one line and writes ' + 'nothing',
  async () => {
    const dir = tempDir('kura-load-');
    const tiny = images.get('tiny')!;
    await run('skopeo', [
      'copy',
      '-q',
      `oci:${tiny.layout}:${tiny.tag}`,
      `docker-archive:${dir}/s.tar:docker.io/example/app:v2`,
    ]);
    const kura = kuraIn(join(dir, 'store'));
    assert.equal((await kura('load', '-i', join(dir, 's.tar'))).stdout, 'Loaded image: example/app:v2\n');
    // Bare names are looked up in the local store first, as docker looks in its daemon.
    const [inspect] = JSON.parse((await kura('inspect', 'example/app:v2')).stdout) as {
      RepoTags: string[];
      RootFS: { Layers: string[] };
    }[];
    assert.deepEqual(inspect!.RepoTags, ['example/app:v2']);
    assert.deepEqual(inspect!.RootFS.Layers, await diffIds(`oci:${tiny.layout}:${tiny.tag}`));
    assert.equal(
      (await kura('inspect', '--format', '{{len .RootFS.Layers}}', 'example/app:v2')).stdout.trim(),
      String(inspect!.RootFS.Layers.length),
    );
    assert.match((await kura('history', 'example/app:v2')).stdout, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n/);
    // Not in the local store, and its registry (port 1 on loopback) refuses: one line naming the address.
    await assert.rejects(
      kura('save', '-o', join(dir, 'none.tar'), '127.0.0.1:1/nope:v1', '--plain-http'),
      (e: { stderr: string; code: number }) => {
        assert.equal(e.code, 1);
        assert.match(e.stderr, /^kura: error: cannot reach http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)[^\n]*\n$/);
        return true;
      },
    );
    assert.ok(!existsSync(join(dir, 'none.tar')));
  },
);
