import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chainIds } from '../oci/config.js';
import { MemoryBlobs, randomImage, type TarFile } from '../oci/random.js';
import { LocalStore } from '../transports/local-store/index.js';
import { indexImage } from './image-index.js';
import { layersReport } from './layers.js';
import { resolveImage } from './resolve.js';

const dir = mkdtempSync(join(tmpdir(), 'kura-layers-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const layer = (n: number): TarFile[] => [
  { name: `l${n}/data`, data: Buffer.alloc(2000 + n * 100, n) },
  // Layer 3 and 4 rewrite layer 1's file: waste to count.
  ...(n > 2 ? [{ name: 'l1/data', data: Buffer.alloc(10, n) }] : []),
];

/** The cache's entries on disk: layer indexes by diff_id, stack summaries by ChainID. */
function entries(store: LocalStore, sub: string[]): string[] {
  const d = join(store.dir, 'index', ...sub, 'sha256');
  return existsSync(d) ? readdirSync(d).map((f) => `sha256:${f.replace(/\.json\.gz$/, '')}`) : [];
}

test("layers: a second look reads the stack summary only; rmi and prune drop removed images' entries", async () => {
  const blobs = new MemoryBlobs();
  const store = new LocalStore(join(dir, 'store'));
  await store.writeImage(
    'localhost/t/a:1',
    await randomImage({ seed: 1, blobs, files: [layer(1), layer(2), layer(3)] }),
  );
  await store.writeImage(
    'localhost/t/b:1',
    await randomImage({ seed: 2, blobs, files: [layer(1), layer(2), layer(4)] }),
  );
  const resolved = async (name: string) => resolveImage(await store.get(name));
  const a = await resolved('localhost/t/a:1');
  const b = await resolved('localhost/t/b:1');

  const uncached = await layersReport(a);
  const first = await layersReport(a, { cache: store.indexes });
  const second = await layersReport(a, { cache: store.indexes });
  assert.equal(first.layersRead, 3);
  assert.equal(second.layersRead, 0);
  assert.ok(uncached.wastedBytes > 0, 'the fixture wastes bytes');
  assert.deepEqual({ ...second, layersRead: 3 }, uncached, 'the cached figures are the computed ones');
  // The summary alone serves the second look: without the layer indexes it still reads nothing.
  await store.indexes.remove(a.config.rootfs.diff_ids);
  assert.equal((await layersReport(a, { cache: store.indexes })).layersRead, 0);
  assert.equal((await indexImage(a, { cache: store.indexes })).read, 3, 'the layer indexes are cached again');
  await layersReport(b, { cache: store.indexes });

  const dA = a.config.rootfs.diff_ids;
  const dB = b.config.rootfs.diff_ids;
  const top = (d: typeof dA) => chainIds(d).at(-1)!;
  assert.deepEqual(entries(store, []).sort(), [...new Set([...dA, ...dB])].sort());
  assert.deepEqual(entries(store, ['chain']).sort(), [top(dA), top(dB)].sort());

  const rmi = await store.remove(['localhost/t/a:1']);
  assert.deepEqual(rmi.errors, []);
  assert.deepEqual(entries(store, []).sort(), [...dB].sort(), "A's own layer went, the shared ones stayed");
  assert.deepEqual(entries(store, ['chain']), [top(dB)]);

  await store.prune({ all: true });
  assert.deepEqual(entries(store, []), []);
  assert.deepEqual(entries(store, ['chain']), []);
});
