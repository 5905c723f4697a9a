import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { Descriptor } from '../oci/artifact.js';
import { readSmallBlob } from '../oci/blob.js';
import { randomImage } from '../oci/random.js';
import { LocalStore } from '../transports/local-store/index.js';
import { OciLayout } from '../transports/layout/index.js';
import { RegistryClient } from '../transports/registry/index.js';
import { KURA_MAIN, startKura } from './kura-process.js';
import { tempDirs } from './tempdirs.js';

const run = promisify(execFile);
const tmp = tempDirs('kura-cli-options-');
const kura = (args: string[], cwd?: string) =>
  run(process.execPath, [KURA_MAIN, ...args], { cwd, encoding: 'buffer', maxBuffer: 64 << 20 });

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

test(
  'every command that reads Docker Hub takes --registry-mirror (pull, inspect, save, copy, index ' + 'create)',
  async () => {
    const mirror = await startKura();
    try {
      const img = await randomImage({ seed: 6 });
      await new RegistryClient({ registry: mirror.host }).repository('library/mirrored').write('v1', img);
      const store = join(tmp(), 'store');
      const env = { ...process.env, XDG_CONFIG_HOME: tmp(), KURA_REGISTRY_MIRRORS: '' };
      const k = (args: string[]) => run(process.execPath, [KURA_MAIN, ...args], { env, maxBuffer: 64 << 20 });
      const m = ['--registry-mirror', mirror.url];
      assert.equal(
        (await k(['pull', ...m, '--store', store, '-q', 'mirrored:v1'])).stdout,
        'docker.io/library/mirrored:v1\n',
      );
      assert.equal((await k(['digest', ...m, 'docker.io/library/mirrored:v1'])).stdout, `${img.descriptor.digest}\n`);
      const out = tmp();
      await k(['save', ...m, '-o', join(out, 'a.tar'), 'docker://mirrored:v1']);
      assert.ok(existsSync(join(out, 'a.tar')));
      await k(['copy', ...m, '-q', 'docker://mirrored:v1', `oci:${join(out, 'layout')}:v1`]);
      await k(['index', 'create', ...m, '-q', '-t', `oci:${join(out, 'index')}:v1`, 'mirrored:v1']);
      // Without the mirror the same read goes to Docker Hub, which this machine cannot reach.
      await assert.rejects(k(['digest', '--plain-http', 'docker.io/library/mirrored:v1']), (e: { stderr?: string }) =>
        /^kura: error: .*docker\.io/m.test(e.stderr ?? ''),
      );
    } finally {
      await mirror.stop();
    }
  },
);

test(
  'usage errors are one kura: error: line naming the help to read; an unknown command suggests the nearest only ' +
    'when it is close',
  async () => {
    const fails = async (...args: string[]) =>
      kura(args).then(
        () => assert.fail(`kura ${args.join(' ')} should fail`),
        (e: { code: number; stderr: Buffer }) => ({ code: e.code, stderr: e.stderr.toString() }),
      );
    const cases: [string[], string][] = [
      [['copy', '--bogus', 'a', 'b'], `kura: error: unknown option '--bogus'; run "kura copy --help" for usage\n`],
      [['copy', 'a'], `kura: error: missing required argument 'dst'; run "kura copy --help" for usage\n`],
      [
        ['index', 'create', 'x'],
        `kura: error: required option '-t, --tag <location>' not specified; run "kura index create --help" for usage\n`,
      ],
      [['imgaes'], `kura: error: unknown command 'imgaes' (did you mean images?); run "kura --help" for usage\n`],
      [['xyzzy'], `kura: error: unknown command 'xyzzy'; run "kura --help" for usage\n`],
    ];
    for (const [args, line] of cases) {
      const e = await fails(...args);
      assert.equal(e.stderr, line, args.join(' '));
      assert.equal(e.code, 2, args.join(' '));
    }
  },
);

test('kura pull oci:DIR points at kura copy oci:DIR local:NAME, which works', async () => {
  const dir = tmp();
  const layout = join(dir, 'layout');
  await new OciLayout(layout).write('v1', await randomImage({ seed: 7 }));
  const store = join(dir, 'store');
  const e = await kura(['pull', '--store', store, `oci:${layout}:v1`]).then(
    () => assert.fail('pull oci: should fail'),
    (x: { code: number; stderr: Buffer }) => x,
  );
  assert.equal(e.code, 2, 'a location of the wrong kind is a usage error');
  const hint = /kura copy (\S+) local:NAME\[:TAG\]\n$/.exec(e.stderr.toString());
  assert.ok(hint, e.stderr.toString());
  await kura(['copy', '-q', '--store', store, hint[1]!, 'local:example/app:v1']);
  assert.equal(
    (await kura(['images', '--store', store, '--format', '{{.Repository}}:{{.Tag}}'])).stdout.toString(),
    'example/app:v1\n',
  );
});

test('images --filter before=IMAGE and since=IMAGE, by creation time as docker compares them', async () => {
  const store = join(tmp(), 'store');
  const s = new LocalStore(store);
  const made: { name: string; created: string }[] = [];
  for (const seed of [11, 12, 13]) {
    const img = await randomImage({ seed });
    const cfg = JSON.parse(
      (
        await readSmallBlob(img.blobs, (JSON.parse(img.manifest.toString()) as { config: Descriptor }).config)
      ).toString(),
    ) as { created: string };
    const name = `localhost/when/s${seed}:1`;
    await s.writeImage(name, img);
    made.push({ name, created: cfg.created });
  }
  made.sort((a, b) => Date.parse(a.created) - Date.parse(b.created));
  const [oldest, middle, newest] = made.map((m) => m.name) as [string, string, string];
  const list = async (...f: string[]) =>
    (
      await kura([
        'images',
        '--store',
        store,
        '--format',
        '{{.Repository}}:{{.Tag}}',
        ...f.flatMap((x) => ['--filter', x]),
      ])
    ).stdout.toString();
  assert.equal(await list(`before=${middle}`), `${oldest}\n`);
  assert.equal(await list(`since=${middle}`), `${newest}\n`);
  assert.equal(await list(`since=${oldest}`, `before=${newest}`), `${middle}\n`);
  const e = await kura(['images', '--store', store, '--filter', 'before=localhost/none:1']).then(
    () => assert.fail('an unknown image must be refused'),
    (x: { stderr: Buffer }) => x.stderr.toString(),
  );
  assert.match(e, /^kura: error: invalid filter "before=localhost\/none:1": no such image/);
});

test('commands that never read the local store do not offer --store (it would do nothing)', async () => {
  for (const args of [
    ['tags', 'localhost:1/x'],
    ['catalog', 'localhost:1'],
    ['manifest', 'inspect', 'localhost:1/x:1'],
    ['rm', 'localhost:1/x:1'],
  ]) {
    const e = await kura([...args, '--store', '/tmp']).then(
      () => assert.fail(`${args[0]} --store should be refused`),
      (x: { code: number; stderr: Buffer }) => x,
    );
    assert.equal(e.code, 2, args.join(' '));
    assert.match(e.stderr.toString(), /^kura: error: unknown option '--store'/, args.join(' '));
  }
});

test('a bad filter, until or size value is a usage error (exit 2) naming the forms it takes', async () => {
  const store = join(tmp(), 'store');
  for (const [args, message] of [
    [['images', '--filter', 'color=red'], /^kura: error: invalid filter "color=red": use /],
    [['image', 'prune', '-f', '--filter', 'until=soon'], /^kura: error: invalid until "soon": give a duration/],
    [['image', 'prune', '-f', '--keep-storage', 'lots'], /^kura: error: invalid size "lots": write it like/],
  ] as const) {
    const e = await kura([...args, '--store', store]).then(
      () => assert.fail(`${args.join(' ')} should be refused`),
      (x: { code: number; stderr: Buffer }) => x,
    );
    assert.equal(e.code, 2, args.join(' '));
    assert.match(e.stderr.toString(), message, args.join(' '));
  }
});
