import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { humanSize } from '../analysis/units.js';
import type { Descriptor } from '../oci/artifact.js';
import { randomImage } from '../oci/random.js';
import { RegistryClient } from '../transports/registry/index.js';
import { KURA_MAIN, startKura, type KuraProcess } from './kura-process.js';
import { tempDirs } from './tempdirs.js';

const run = promisify(execFile);
const tmp = tempDirs('kura-push-loaded-');
const kuraIn =
  (store: string) =>
  async (...args: string[]) =>
    (
      await run(process.execPath, [
        KURA_MAIN,
        ...args,
        ...(['images', 'inspect', 'history', 'pull', 'push', 'save', 'load'].includes(args[0]!)
          ? ['--store', store]
          : []),
      ])
    ).stdout;

let k: KuraProcess;
let original: string;
let configDigest: string;
before(async () => {
  k = await startKura();
  const img = await randomImage({ seed: 61, layers: 2, layerSize: 4096 });
  original = img.descriptor.digest;
  configDigest = (JSON.parse(img.manifest.toString()) as { config: { digest: string } }).config.digest;
  await new RegistryClient({ registry: k.host }).repository('lifecycle/app').write('v1', img);
});
after(() => k.stop());

const repoDigests = async (kura: (...a: string[]) => Promise<string>, name: string) =>
  JSON.parse(await kura('inspect', '--format', '{{json .RepoDigests}}', name)) as string[];

test(
  'save → load → push of a gzip image: no invented repo digest after load; push keeps the pulled blobs and the ' +
    'tag’s digest',
  async () => {
    const dir = tmp();
    const kura = kuraIn(join(dir, 'store'));
    const name = `${k.host}/lifecycle/app:v1`;
    await kura('pull', '-q', name);
    assert.deepEqual(await repoDigests(kura, name), [`${k.host}/lifecycle/app@${original}`]);
    await kura('save', '-o', join(dir, 'app.tar'), name);
    await kura('load', '-i', join(dir, 'app.tar'));
    assert.deepEqual(await repoDigests(kura, name), [], 'a loaded image has no repo digest until pushed');
    const out = await kura('push', name);
    assert.equal(out, `v1: digest: ${original} size: ${out.match(/size: (\d+)/)![1]}\n`, 'the tag keeps its digest');
    assert.equal(
      (await new RegistryClient({ registry: k.host }).repository('lifecycle/app').head('v1')).descriptor.digest,
      original,
    );
    assert.deepEqual(await repoDigests(kura, name), [`${k.host}/lifecycle/app@${original}`], 'pushed: now it has one');
  },
);

test(
  'push of a loaded image the store has no compressed copy of compresses its layers (gzip by default, --compress ' +
    'none keeps them plain)',
  async () => {
    const dir = tmp();
    const first = kuraIn(join(dir, 'first'));
    await first('pull', '-q', `${k.host}/lifecycle/app:v1`);
    await first('save', '-o', join(dir, 'app.tar'), `${k.host}/lifecycle/app:v1`);
    const kura = kuraIn(join(dir, 'fresh'));
    await kura('load', '-i', join(dir, 'app.tar'));
    const client = new RegistryClient({ registry: k.host });
    const layersOf = async (tag: string) => {
      const m = JSON.parse((await client.repository('lifecycle/app').get(tag)).manifest.toString()) as {
        config: { digest: string };
        layers: { mediaType: string }[];
      };
      return { config: m.config.digest, types: m.layers.map((l) => l.mediaType) };
    };
    await run(process.execPath, [
      KURA_MAIN,
      'tag',
      '--store',
      join(dir, 'fresh'),
      `${k.host}/lifecycle/app:v1`,
      `${k.host}/lifecycle/app:gz`,
    ]);
    await kura('push', '-q', `${k.host}/lifecycle/app:gz`);
    const gz = await layersOf('gz');
    assert.equal(gz.config, configDigest, 'the same image');
    for (const t of gz.types) assert.match(t, /(\+gzip|\.tar\.gzip)$/);
    await run(process.execPath, [
      KURA_MAIN,
      'tag',
      '--store',
      join(dir, 'fresh'),
      `${k.host}/lifecycle/app:v1`,
      `${k.host}/lifecycle/app:plain`,
    ]);
    await kura('push', '-q', '--compress', 'none', `${k.host}/lifecycle/app:plain`);
    for (const t of (await layersOf('plain')).types) assert.match(t, /tar$/);
  },
);

test(
  'images, inspect and history show unpacked sizes, the same after pull and after load; COMPRESSED SIZE is the ' +
    'layers as stored',
  async () => {
    const dir = tmp();
    const pulled = kuraIn(join(dir, 'pulled'));
    const loaded = kuraIn(join(dir, 'loaded'));
    const name = `${k.host}/lifecycle/app:v1`;
    await pulled('pull', '-q', name);
    await pulled('save', '-o', join(dir, 'app.tar'), name);
    await loaded('load', '-i', join(dir, 'app.tar'));
    // The unpacked size by hand: each layer's tar, decompressed.
    const a = await new RegistryClient({ registry: k.host }).repository('lifecycle/app').get('v1');
    const layers = (JSON.parse(a.manifest.toString()) as { layers: Descriptor[] }).layers;
    let unpacked = 0;
    const perLayer: number[] = [];
    for (const l of layers) {
      const chunks: Buffer[] = [];
      for await (const c of await a.blobs.open(l)) chunks.push(c as Buffer);
      const bytes = gunzipSync(Buffer.concat(chunks));
      perLayer.push(bytes.length);
      unpacked += bytes.length;
    }
    const compressed = layers.reduce((n, l) => n + l.size, 0);
    assert.notEqual(unpacked, compressed);
    const row = (kura: typeof pulled) => kura('images', '--format', '{{.Size}} {{.CompressedSize}}', name);
    assert.equal(await row(pulled), `${humanSize(unpacked)} ${humanSize(compressed)}\n`);
    assert.equal(
      await row(loaded),
      `${humanSize(unpacked)} ${humanSize(unpacked)}\n`,
      'loaded layers are stored plain',
    );
    for (const kura of [pulled, loaded]) {
      assert.equal(await kura('inspect', '--format', '{{.Size}}', name), `${unpacked}\n`);
      const sizes = (JSON.parse(await kura('history', '--json', name)) as { Size: number; Layer: string | null }[])
        .filter((h) => h.Layer)
        .map((h) => h.Size)
        .reverse();
      assert.deepEqual(sizes, perLayer);
    }
  },
);
