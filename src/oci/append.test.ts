// appendLayers as an image builder: streamed layers spooled (never whole in memory), `created` times, umoci reads it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { OciLayout } from '../transports/layout/oci-layout.js';
import { openImage } from './image.js';
import { appendLayers, creationTime, withConfig } from './mutate.js';
import { makeTar, randomImage } from './random.js';
import { validateArtifact } from './validate.js';

const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'kura-append-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const sha256 = async (s: Readable) => {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of s) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
};

const streamed = (data: Buffer) => () => Promise.resolve(Readable.from([data]));

test('new history entries and the config get created: opts.created, else SOURCE_DATE_EPOCH, else now', async () => {
  const base = await randomImage({ seed: 21 });
  const tar = await makeTar([{ name: 'x', data: Buffer.from('x') }]);
  const before = Date.now();
  const now = await openImage(await appendLayers(base, [{ tar }])).config();
  const t = Date.parse(now.created!);
  assert.ok(t >= before - 1000 && t <= Date.now(), `created ${now.created} is now`);
  assert.equal(now.history!.at(-1)!.created, now.created);

  const pinned = await appendLayers(
    base,
    [{ tar }, { tar: streamed(tar), history: { created_by: 'COPY x', created: '2001-01-01T00:00:00Z' } }],
    { created: new Date(Date.UTC(2020, 0, 2, 3, 4, 5)) },
  );
  await validateArtifact(pinned);
  const cfg = await openImage(pinned).config();
  assert.equal(cfg.created, '2020-01-02T03:04:05Z');
  assert.deepEqual(cfg.history!.slice(-2), [
    { created: '2020-01-02T03:04:05Z', comment: 'appended by kura' },
    { created: '2001-01-01T00:00:00Z', created_by: 'COPY x' },
  ]);

  const saved = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = '1700000000';
  try {
    const a = await openImage(await appendLayers(base, [{ tar }])).config();
    const b = await openImage(await appendLayers(base, [{ tar }])).config();
    assert.equal(a.created, '2023-11-14T22:13:20Z', 'SOURCE_DATE_EPOCH pins the time');
    assert.deepEqual(a, b, 'and so the build is reproducible');
  } finally {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  }
  assert.equal(creationTime('2020-05-05T00:00:00.5Z', { SOURCE_DATE_EPOCH: '0' }), '2020-05-05T00:00:00.500Z');
  assert.equal(creationTime(undefined, { SOURCE_DATE_EPOCH: '0' }), '1970-01-01T00:00:00Z');
  assert.throws(() => creationTime(undefined, { SOURCE_DATE_EPOCH: 'yesterday' }), /SOURCE_DATE_EPOCH is "yesterday"/);
  assert.throws(() => creationTime('soon'), /created "soon" is not a date/);
});

const spoolFiles = () => readdirSync(tmpdir()).filter((n) => n.startsWith('kura-layer-'));
const openFds = () => readdirSync('/proc/self/fd').length;

test('a streamed layer is spooled to an unlinked file: nothing left on disk, read back by the artifact', async () => {
  const tar = await makeTar([{ name: 'big', data: Buffer.alloc(200_000, 7) }]);
  const files = spoolFiles();
  const img = await appendLayers(await randomImage({ seed: 22 }), [{ tar: streamed(tar), compression: 'zstd' }]);
  assert.deepEqual(spoolFiles(), files, 'no file is left in the temp folder, even while the artifact lives');
  const layer = openImage(img).manifest.layers.at(-1)!;
  const [a, b] = await Promise.all([sha256(await img.blobs.open(layer)), sha256(await img.blobs.open(layer))]);
  assert.deepEqual(a, { digest: layer.digest, size: layer.size }, 'read back whole');
  assert.deepEqual(b, a, 'and again, side by side');
  assert.equal((await openImage(img).config()).rootfs.diff_ids.at(-1), (await sha256(Readable.from([tar]))).digest);
  await validateArtifact(img);
});

test('the spool file goes once no artifact can read it any more', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const tar = await makeTar([{ name: 'gone', data: Buffer.alloc(1000, 1) }]);
  const base = await randomImage({ seed: 25 });
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await settle(); // earlier tests' artifacts go first, so only this one's descriptor is counted
  const before = openFds();
  let img: unknown = await appendLayers(base, [{ tar: streamed(tar) }]);
  assert.equal(openFds(), before + 1, 'one open descriptor holds the spooled layer');
  assert.ok(img);
  img = undefined;
  for (let i = 0; i < 50 && openFds() > before; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(openFds(), before, 'its descriptor was closed after the artifact was collected');
});

test('a failing tar stream leaves no file or descriptor behind and rejects with its error', async () => {
  const base = await randomImage({ seed: 23 });
  const [files, fds] = [spoolFiles(), openFds()];
  const broken = () =>
    Promise.resolve(
      new Readable({
        read() {
          this.destroy(new Error('disk on fire'));
        },
      }),
    );
  await assert.rejects(appendLayers(base, [{ tar: broken }]), /disk on fire/);
  assert.deepEqual(spoolFiles(), files);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(openFds(), fds);
});

test('umoci stats and unpacks an image built with appendLayers and withConfig', async () => {
  const dir = scratch();
  const tar = await makeTar([{ name: 'app/hello.txt', data: Buffer.from('hello from kura\n') }]);
  let img = await appendLayers(await randomImage({ seed: 24, layers: 1 }), [{ tar: streamed(tar) }]);
  img = await withConfig(img, (c) => ({ ...c, config: { ...c.config, Cmd: ['cat', '/app/hello.txt'] } }));
  const layout = new OciLayout(join(dir, 'layout'));
  await layout.write('v1', img);
  const stat = JSON.parse(
    execFileSync('umoci', ['stat', '--json', '--image', `${join(dir, 'layout')}:v1`], {
      encoding: 'utf8',
    }),
  ) as { history: { created: string; comment?: string }[] };
  assert.equal(stat.history.at(-1)?.comment, 'appended by kura');
  assert.ok(Date.parse(stat.history.at(-1)!.created) > Date.parse('2020-01-01'), 'umoci reads created');
  const bundle = join(dir, 'bundle');
  const r = spawnSync('umoci', ['unpack', '--rootless', '--image', `${join(dir, 'layout')}:v1`, bundle], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(bundle, 'rootfs/app/hello.txt'), 'utf8'), 'hello from kura\n');
  const runtime = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { args: string[] } };
  assert.deepEqual(runtime.process.args, ['cat', '/app/hello.txt']);
});

test('appending a streamed 256 MiB incompressible layer keeps peak RSS far below its size', () => {
  const child = join(dirname(), 'append-memory.child.js');
  const r = spawnSync(process.execPath, [child], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    maxRssMiB: number;
    layerBytes: number;
    tarDigest: string;
    diffId: string;
    blob: { digest: string; size: number };
    layer: { digest: string; size: number };
  };
  assert.equal(out.layerBytes > 256 * 1024 * 1024, true, 'the layer is over 256 MiB');
  assert.equal(out.diffId, out.tarDigest, 'diffId is the sha256 of the tar bytes, hashed independently');
  assert.deepEqual(out.blob, out.layer, 'the blob read back hashes to the layer descriptor');
  assert.ok(out.layer.size > 256 * 1024 * 1024, 'incompressible: the gzip blob is as big as the tar');
  assert.ok(out.maxRssMiB < 150, `peak RSS ${out.maxRssMiB} MiB while appending a 256 MiB layer`);
});

function dirname(): string {
  return join(fileURLToPath(import.meta.url), '..');
}
