import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDirs } from './tempdirs.js';
import { kuraOk } from './helpers.js';

const tmp = tempDirs('kura-import-');

test(
  'load of a root filesystem tar says it is no image archive and names kura import, which makes an image of ' + 'it',
  async () => {
    const dir = tmp();
    const root = join(dir, 'root');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'etc', 'alternatives'), { recursive: true });
    writeFileSync(join(root, 'bin', 'hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
    writeFileSync(join(root, 'etc', 'os-release'), 'ID=kura-test\n');
    symlinkSync('/bin/hello', join(root, 'etc', 'alternatives', 'greet'));
    const rootfs = join(dir, 'rootfs.tar');
    execFileSync('tar', ['-C', root, '-cf', rootfs, '.']);
    const store = join(dir, 'store');
    const kura = async (...args: string[]) => (await kuraOk([...args, '--store', store])).stdout;

    const e = await kura('load', '-i', rootfs).then(
      () => assert.fail('load of a rootfs tar should fail'),
      (x: { code: number; stderr: string }) => x,
    );
    assert.equal(e.code, 1);
    assert.equal(
      e.stderr,
      `kura: error: ${rootfs} is not an image archive (no manifest.json or index.json); if it is a root filesystem, ` +
        `make an image of it with kura import ${rootfs} NAME[:TAG]\n`,
    );

    const id = await kura(
      'import',
      '-m',
      'from a test',
      '-c',
      'CMD ["/bin/hello"]',
      '-c',
      'ENV GREETING=hi',
      '--platform',
      'linux/arm64',
      rootfs,
      'example/rootfs:v1',
    );
    assert.match(id, /^sha256:[0-9a-f]{64}\n$/);
    const [doc] = JSON.parse(await kura('inspect', 'example/rootfs:v1')) as {
      Id: string;
      Config: { Cmd: string[]; Env: string[] };
      Architecture: string;
      RepoDigests: string[];
      RootFS: { Layers: string[] };
    }[];
    assert.equal(doc!.Id, id.trim());
    assert.deepEqual(doc!.Config.Cmd, ['/bin/hello']);
    assert.deepEqual(doc!.Config.Env, ['GREETING=hi']);
    assert.equal(doc!.Architecture, 'arm64');
    assert.deepEqual(doc!.RepoDigests, [], 'imported, never pushed');
    assert.equal(doc!.RootFS.Layers.length, 1);
    assert.equal(await kura('history', '--format', '{{.Comment}}', 'example/rootfs:v1'), 'from a test\n');
    // The image's filesystem is the tar's.
    await kura('export', '-o', join(dir, 'out.tar'), 'example/rootfs:v1');
    const list = (f: string) =>
      execFileSync('tar', ['-tvf', f])
        .toString()
        .split('\n')
        .map((l) =>
          l
            .replace(/^.*\d\d:\d\d /, '')
            .replace(/^\.\//, '')
            .replace(/\/$/, ''),
        )
        .filter((l) => l && l !== '.')
        .sort();
    assert.deepEqual(list(join(dir, 'out.tar')), list(rootfs));
    // Without a name: an unnamed image, its ID printed.
    const anon = await kura('import', rootfs);
    assert.match(anon, /^sha256:[0-9a-f]{64}\n$/);
  },
);
