import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Digest } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { makeTar, MemoryBlobs, randomImage } from '../oci/random.js';
import { IndexCacheDir } from '../transports/local-store/index.js';
import { indexImage, type IndexCache } from './image-index.js';
import { resolveImage } from './resolve.js';
import { tempDir } from '../test/tempdirs.js';

class MapCache implements IndexCache {
  readonly docs = new Map<string, Buffer>();
  async get(d: string) {
    return this.docs.get(d);
  }
  async put(d: string, doc: Buffer) {
    this.docs.set(d, doc);
  }
}

test(
  'indexes come from the cache by diff_id on a second look; digests asked for later re-read the ' + 'layers',
  async () => {
    const r = await resolveImage(await randomImage({ layers: 3 }));
    const cache = new MapCache();
    const first = await indexImage(r, { cache });
    assert.equal(first.read, 3);
    assert.deepEqual([...cache.docs.keys()].sort(), [...r.config.rootfs.diff_ids].sort());
    const second = await indexImage(r, { cache });
    assert.equal(second.read, 0);
    assert.deepEqual(second.layers, first.layers);
    const digests = await indexImage(r, { cache, digests: true });
    assert.equal(digests.read, 3, 'the cached indexes had no content digests');
    assert.match(digests.layers[0]!.entries.find((e) => e.type === 'file')!.digest!, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await indexImage(r, { cache })).read, 0, 'an index with digests serves a look without them');
    cache.docs.set(r.config.rootfs.diff_ids[0]!, Buffer.from('{"format": 0}'));
    assert.equal((await indexImage(r, { cache })).read, 1, 'an entry of another format is read again');
  },
);

test('a layer whose bytes do not hash to the config’s diff_id is indexed but never cached', async () => {
  const blobs = new MemoryBlobs();
  const tar = gzipSync(await makeTar([{ name: 'f', data: Buffer.from('x') }]));
  const layer = { mediaType: MediaTypes.OciLayerGzip, digest: blobs.put(tar), size: tar.length };
  const lie = `sha256:${'0'.repeat(64)}` as Digest;
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [lie] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: { mediaType: MediaTypes.OciConfig, digest: blobs.put(config), size: config.length },
      layers: [layer],
    }),
  );
  const r = await resolveImage({
    descriptor: { mediaType: MediaTypes.OciManifest, digest: blobs.put(manifest), size: manifest.length },
    manifest,
    blobs,
  });
  const cache = new MapCache();
  const warnings: string[] = [];
  const res = await indexImage(r, { cache, onWarning: (m) => warnings.push(m) });
  assert.equal(res.layers[0]!.entries[0]!.path, 'f');
  assert.equal(cache.docs.size, 0);
  assert.match(
    warnings.join('\n'),
    /layer 0: its content hashes to sha256:[0-9a-f]{64}, but the config says sha256:0{64}; not cached/,
  );
});

test(
  'IndexCacheDir: documents by diff_id under index/sha256, written whole; garbage and bad names read as ' + 'absent',
  async () => {
    const dir = tempDir('kura-index-cache-');
    const c = new IndexCacheDir(dir);
    const d = `sha256:${'a'.repeat(64)}`;
    assert.equal(await c.get(d), undefined);
    await c.put(d, Buffer.from('{"x":1}'));
    assert.equal((await c.get(d))!.toString(), '{"x":1}');
    assert.deepEqual(readdirSync(join(dir, 'index', 'sha256')), [`${'a'.repeat(64)}.json.gz`]);
    writeFileSync(join(dir, 'index', 'sha256', `${'a'.repeat(64)}.json.gz`), 'not gzip');
    assert.equal(await c.get(d), undefined);
    assert.equal(await c.get('sha256:../../etc/passwd'), undefined);
    await c.put('../escape', Buffer.from('x'));
    assert.deepEqual(readdirSync(dir), ['index']);
  },
);
