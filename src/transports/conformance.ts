/** runTransportConformance: the behaviour every medium must have, run against each one by its tests. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { Artifact, Descriptor, Sink, Source, TransferEvent } from '../oci/artifact.js';
import { canClose, canDelete, canListTags } from '../oci/artifact.js';
import { decompress } from '../oci/compression.js';
import { digestOf } from '../oci/digest.js';
import { MemoryBlobs, randomImage, randomIndex } from '../oci/random.js';
import { MemoryImages } from './memory.js';
import { loadTree, treeBlobs } from '../oci/tree.js';
import { readSmallBlob } from '../oci/blob.js';
import { parseImageManifest } from '../oci/manifest.js';

export type Medium = Source & Sink;

export interface TransportHarness {
  /** A fresh, empty medium to write to. */
  create(): Promise<Medium>;
  /**
   * The same medium opened again for reading, after `close()` if it has one (archives are written
   * whole on close). Defaults to the medium itself.
   */
  reopen?(written: Medium): Promise<Medium>;
  /** Names the medium accepts for `write` and `get` (a docker-archive wants `name:tag`). Two distinct ones. */
  refs?: [string, string];
  /** The medium keeps Docker schema2 manifests as they are (a docker-archive may not). Default true. */
  keepsDockerFormat?: boolean;
  /** The medium can hold an index (docker-archive holds single images). Default true. */
  holdsIndexes?: boolean;
  /**
   * The medium stores images in its own form under a new manifest (a docker-archive keeps layers
   * uncompressed): compare config bytes and uncompressed layer contents instead of manifest bytes
   * and digests. Default false.
   */
  rewritesManifest?: boolean;
  cleanup?(): Promise<void>;
}

async function drain(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every blob of `a` is readable from the artifact's own reader with the right bytes. */
export async function assertComplete(a: Artifact): Promise<void> {
  const tree = await loadTree(a);
  for (const b of treeBlobs(tree)) {
    const bytes = await drain(await a.blobs.open(b));
    assert.equal(bytes.length, b.size, `size of ${b.digest}`);
    assert.equal(
      digestOf(bytes, b.digest.startsWith('sha512') ? 'sha512' : 'sha256'),
      b.digest,
      `bytes of ${b.digest}`,
    );
  }
}

/** The config bytes and the sha256 of each uncompressed layer: what a medium that rewrites manifests keeps. */
async function imageContent(a: Artifact): Promise<{ config: Buffer; diffIds: string[] }> {
  const m = parseImageManifest(a.manifest, a.descriptor.mediaType, `image ${a.descriptor.digest}`);
  const config = await readSmallBlob(a.blobs, m.config);
  const diffIds: string[] = [];
  for (const l of m.layers ?? []) {
    const { stream } = await decompress(await a.blobs.open(l));
    const hash = createHash('sha256');
    for await (const c of stream) hash.update(c as Buffer);
    diffIds.push(`sha256:${hash.digest('hex')}`);
  }
  return { config, diffIds };
}

/** `got` is `src`: the same manifest bytes, or (for a rewriting medium) the same config and layer contents. */
async function assertSameImage(h: TransportHarness, got: Artifact, src: Artifact): Promise<void> {
  if (!h.rewritesManifest) return assert.deepEqual(got.manifest, src.manifest);
  const [a, b] = await Promise.all([imageContent(got), imageContent(src)]);
  assert.deepEqual(a.config, b.config, 'config bytes');
  assert.deepEqual(a.diffIds, b.diffIds, 'uncompressed layer contents');
  assert.deepEqual(
    a.diffIds,
    (JSON.parse(a.config.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids,
    'layers match the config diff_ids',
  );
}

async function roundTrip(
  h: TransportHarness,
  src: Artifact,
  ref: string,
  opts: { events?: TransferEvent[] } = {},
): Promise<{ got: Artifact; medium: Medium; desc: Descriptor }> {
  const m = await h.create();
  const desc = await m.write(ref, src, { onProgress: (e) => opts.events?.push(e) });
  if (canClose(m)) await m.close();
  const r = h.reopen ? await h.reopen(m) : m;
  return { got: await r.get(ref), medium: r, desc };
}

/**
 * The contract every transport keeps, run against the in-memory reference and each real medium:
 * byte-exact manifests, verified blobs, indexes with their children, tags, digests, clean failure.
 */
export function runTransportConformance(name: string, h: TransportHarness): void {
  const [ref1, ref2] = h.refs ?? ['v1', 'v2'];

  test(`${name}: an OCI image round-trips byte-exact with every blob`, async () => {
    const src = await randomImage({ seed: 11, layers: 3 });
    const events: TransferEvent[] = [];
    const { got, desc } = await roundTrip(h, src, ref1, { events });
    if (h.rewritesManifest) {
      assert.equal(got.descriptor.digest, desc.digest);
      assert.equal(got.descriptor.digest, digestOf(got.manifest));
      assert.equal(got.descriptor.size, got.manifest.length);
    } else {
      assert.equal(desc.digest, src.descriptor.digest);
      assert.equal(got.descriptor.digest, src.descriptor.digest);
      assert.equal(got.descriptor.mediaType, src.descriptor.mediaType);
      assert.equal(got.descriptor.size, src.manifest.length);
    }
    await assertSameImage(h, got, src);
    await assertComplete(got);
    // Progress is data: each of the 4 blobs (config + 3 layers) ends as done or skipped.
    const ends = new Set(events.filter((e) => ['done', 'skipped', 'mounted'].includes(e.status)).map((e) => e.digest));
    for (const b of treeBlobs(await loadTree(src)))
      assert.ok(ends.has(b.digest), `no final progress event for ${b.digest}`);
    await h.cleanup?.();
  });

  if (h.keepsDockerFormat !== false) {
    test(`${name}: a Docker schema2 image keeps its media types`, async () => {
      const src = await randomImage({ seed: 12, format: 'docker' });
      const { got } = await roundTrip(h, src, ref1);
      assert.equal(got.descriptor.mediaType, src.descriptor.mediaType);
      assert.deepEqual(got.manifest, src.manifest);
      await assertComplete(got);
      await h.cleanup?.();
    });
  }

  if (h.holdsIndexes !== false) {
    test(`${name}: a two-platform index round-trips with its children`, async () => {
      const src = await randomIndex({ seed: 13 });
      const { got } = await roundTrip(h, src, ref1);
      assert.deepEqual(got.manifest, src.manifest);
      const tree = await loadTree(got);
      assert.equal(tree.manifests.length, 2);
      for (const child of tree.manifests) {
        assert.deepEqual(child.manifest, await readSmallBlob(src.blobs, child.descriptor));
      }
      await assertComplete(got);
      await h.cleanup?.();
    });
  }

  test(`${name}: two names, each resolves to its own image, and by digest`, async () => {
    const blobs = new MemoryBlobs();
    const a = await randomImage({ seed: 21, blobs });
    const b = await randomImage({ seed: 22, blobs });
    const m = await h.create();
    const da = await m.write(ref1, a);
    const db = await m.write(ref2, b);
    if (canClose(m)) await m.close();
    const r = h.reopen ? await h.reopen(m) : m;
    assert.equal((await r.get(ref1)).descriptor.digest, h.rewritesManifest ? da.digest : a.descriptor.digest);
    assert.equal((await r.get(ref2)).descriptor.digest, h.rewritesManifest ? db.digest : b.descriptor.digest);
    await assertSameImage(h, await r.get(h.rewritesManifest ? db.digest : b.descriptor.digest), b);
    if (canListTags(r)) {
      const tags = await r.tags();
      assert.equal(tags.length, 2, `tags: ${tags.join(', ')}`);
    }
    await h.cleanup?.();
  });

  test(`${name}: names written concurrently are all kept, each complete`, async () => {
    // `copy --all-tags` writes several tags at once: none may be lost (an archive once staged each
    // write in its own directory and kept only the last).
    const blobs = new MemoryBlobs();
    const srcs = await Promise.all([71, 72].map((seed) => randomImage({ seed, blobs, layers: 2 })));
    const refs = [ref1, ref2];
    const m = await h.create();
    const descs = await Promise.all(srcs.map((src, i) => m.write(refs[i]!, src)));
    if (canClose(m)) await m.close();
    const r = h.reopen ? await h.reopen(m) : m;
    for (const [i, src] of srcs.entries()) {
      const got = await r.get(refs[i]!);
      assert.equal(got.descriptor.digest, h.rewritesManifest ? descs[i]!.digest : src.descriptor.digest, `${refs[i]}`);
      await assertSameImage(h, got, src);
      await assertComplete(got);
    }
    if (canListTags(r)) {
      const tags = await r.tags();
      assert.equal(tags.length, 2, `tags: ${tags.join(', ')}`);
    }
    await h.cleanup?.();
  });

  test(`${name}: an unknown name is MANIFEST_UNKNOWN`, async () => {
    const m = await h.create();
    await m.write(ref1, await randomImage({ seed: 31 }));
    if (canClose(m)) await m.close();
    const r = h.reopen ? await h.reopen(m) : m;
    await assert.rejects(r.get(ref2), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'MANIFEST_UNKNOWN', `${e.name}: ${e.message}`);
      return true;
    });
    await h.cleanup?.();
  });

  test(`${name}: a source whose bytes do not match their digest is refused, and the name is not written`, async () => {
    const good = await randomImage({ seed: 41 });
    const tree = await loadTree(good);
    const layer = tree.blobs[1]!;
    const bad: Artifact = {
      ...good,
      blobs: {
        open: async (d) => (d.digest === layer.digest ? Readable.from([Buffer.alloc(d.size, 7)]) : good.blobs.open(d)),
      },
    };
    const m = await h.create();
    await assert.rejects(m.write(ref1, bad), /digest|hash|size|match/i);
    if (canClose(m)) await m.close().catch(() => undefined);
    if (h.reopen) {
      const r = await h.reopen(m).catch(() => undefined);
      if (r) await assert.rejects(r.get(ref1));
    } else {
      await assert.rejects(m.get(ref1));
    }
    await h.cleanup?.();
  });

  test(`${name}: copying out to memory and back is lossless`, async () => {
    const src = await randomImage({ seed: 51, layers: 2 });
    const { got } = await roundTrip(h, src, ref1);
    const mem = new MemoryImages();
    await mem.write('x', got);
    const again = await mem.get('x');
    await assertSameImage(h, again, src);
    await assertComplete(again);
    await h.cleanup?.();
  });

  test(`${name}: delete removes a name when the medium can delete`, async (t) => {
    const m = await h.create();
    if (!canDelete(m) || canClose(m)) return t.skip('medium cannot delete');
    await m.write(ref1, await randomImage({ seed: 61 }));
    await m.delete(ref1);
    await assert.rejects(m.get(ref1));
    await h.cleanup?.();
  });
}
