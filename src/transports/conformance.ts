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
  /**
   * Names the medium accepts for `write` and `get` (a docker-archive wants `name:tag`), distinct, as
   * `tags()` lists them. A third, used by the delete test, defaults to the second with `-3` appended.
   */
  refs?: [string, string] | [string, string, string];
  /**
   * The medium keeps the root descriptor's annotations and platform (an OCI layout's index.json
   * does; a registry's manifest HEAD does not). Default false: the annotation test is skipped.
   */
  keepsDescriptorAnnotations?: boolean;
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

/** `bytes` are what `d` describes: its size and its digest. */
function assertBytes(bytes: Buffer, d: Descriptor): void {
  assert.equal(bytes.length, d.size, `size of ${d.digest}`);
  assert.equal(digestOf(bytes, d.digest.startsWith('sha512') ? 'sha512' : 'sha256'), d.digest, `bytes of ${d.digest}`);
}

interface ParsedManifest {
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/**
 * The blobs (configs and layers) and child manifests `a` needs, found by reading its manifests with
 * plain JSON.parse: an oracle independent of src/oci/tree.ts, which every sink uses to walk an image.
 * Children are read (and checked) from the artifact's own reader.
 */
export async function expectedContent(a: Artifact): Promise<{ blobs: Descriptor[]; children: Descriptor[] }> {
  const blobs = new Map<string, Descriptor>();
  const children: Descriptor[] = [];
  const visit = async (bytes: Buffer): Promise<void> => {
    const doc = JSON.parse(bytes.toString('utf8')) as ParsedManifest;
    for (const child of doc.manifests ?? []) {
      const childBytes = await drain(await a.blobs.open(child));
      assertBytes(childBytes, child);
      children.push(child);
      await visit(childBytes);
    }
    for (const b of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) blobs.set(b.digest, b);
  };
  await visit(a.manifest);
  return { blobs: [...blobs.values()], children };
}

/** Every blob and child manifest of `a` is readable from the artifact's own reader with the right bytes. */
export async function assertComplete(a: Artifact): Promise<void> {
  for (const b of (await expectedContent(a)).blobs) assertBytes(await drain(await a.blobs.open(b)), b);
}

/** `p` rejects with an error whose `code` is `code` (the message is shown when it is not). */
export async function rejectsWithCode(p: Promise<unknown>, code: string, what?: string): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, `${what ? `${what}: ` : ''}${e.name}: ${e.message}`);
    return true;
  });
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
  const ref3 = h.refs?.[2] ?? `${ref2}-3`;
  const reopen = async (m: Medium): Promise<Medium> => {
    if (canClose(m)) await m.close();
    return h.reopen ? h.reopen(m) : m;
  };
  /** `tags()` as a set, where the medium lists tags. */
  const assertTags = async (r: Medium, expected: string[], what: string): Promise<void> => {
    if (!canListTags(r)) return;
    const tags = await r.tags();
    assert.equal(tags.length, expected.length, `${what}: tags ${tags.join(', ')}`);
    assert.deepEqual(new Set(tags), new Set(expected), what);
  };

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
    const { blobs } = await expectedContent(src);
    assert.equal(blobs.length, 4);
    for (const b of blobs) assert.ok(ends.has(b.digest), `no final progress event for ${b.digest}`);
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
      const { children, blobs } = await expectedContent(got);
      assert.equal(children.length, 2);
      for (const child of children) {
        assert.deepEqual(await drain(await got.blobs.open(child)), await readSmallBlob(src.blobs, child));
      }
      assert.equal(blobs.length, (await expectedContent(src)).blobs.length);
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
    const r = await reopen(m);
    assert.equal((await r.get(ref1)).descriptor.digest, h.rewritesManifest ? da.digest : a.descriptor.digest);
    assert.equal((await r.get(ref2)).descriptor.digest, h.rewritesManifest ? db.digest : b.descriptor.digest);
    await assertSameImage(h, await r.get(h.rewritesManifest ? db.digest : b.descriptor.digest), b);
    await assertTags(r, [ref1, ref2], 'two names');
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
    const r = await reopen(m);
    for (const [i, src] of srcs.entries()) {
      const got = await r.get(refs[i]!);
      assert.equal(got.descriptor.digest, h.rewritesManifest ? descs[i]!.digest : src.descriptor.digest, `${refs[i]}`);
      await assertSameImage(h, got, src);
      await assertComplete(got);
    }
    await assertTags(r, refs, 'names written concurrently');
    await h.cleanup?.();
  });

  test(`${name}: an unknown name is MANIFEST_UNKNOWN`, async () => {
    const m = await h.create();
    await m.write(ref1, await randomImage({ seed: 31 }));
    const r = await reopen(m);
    await rejectsWithCode(r.get(ref2), 'MANIFEST_UNKNOWN');
    await h.cleanup?.();
  });

  test(`${name}: a source whose bytes do not match their digest is refused, and the name is not written`, async () => {
    const good = await randomImage({ seed: 41 });
    const layer = (await expectedContent(good)).blobs[1]!;
    const bad: Artifact = {
      ...good,
      blobs: {
        open: async (d) => (d.digest === layer.digest ? Readable.from([Buffer.alloc(d.size, 7)]) : good.blobs.open(d)),
      },
    };
    const m = await h.create();
    await assert.rejects(m.write(ref1, bad), /digest|hash|size|match/i);
    // A medium written whole on close (an archive) may not exist at all after the refused write.
    const whole = canClose(m);
    if (whole) await m.close().catch(() => undefined);
    const r = h.reopen ? await h.reopen(m).catch(() => undefined) : m;
    if (r)
      await assert.rejects(r.get(ref1), (e: Error & { code?: string }) => {
        if (whole && e.code === undefined && /does not exist/.test(e.message)) return true;
        assert.equal(e.code, 'MANIFEST_UNKNOWN', `the name of a refused write: ${e.name}: ${e.message}`);
        return true;
      });
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

  test(`${name}: deleting one name keeps the others, of the same image and of another`, async (t) => {
    const m = await h.create();
    if (!canDelete(m) || canClose(m)) return t.skip('medium cannot delete');
    const blobs = new MemoryBlobs();
    const a = await randomImage({ seed: 61, blobs });
    const b = await randomImage({ seed: 62, blobs });
    const da = await m.write(ref1, a);
    await m.write(ref2, a);
    const db = await m.write(ref3, b);
    await assertTags(m, [ref1, ref2, ref3], 'before the delete');
    // A medium that can delete only whole manifests must refuse (UNSUPPORTED), not take ref2 along.
    const refused = await m.delete(ref1).then(
      () => false,
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'UNSUPPORTED', `delete ${ref1}: ${e.name}: ${e.message}`);
        return true;
      },
    );
    if (refused) assert.equal((await m.get(ref1)).descriptor.digest, da.digest, 'a refused delete changes nothing');
    else await rejectsWithCode(m.get(ref1), 'MANIFEST_UNKNOWN', `${ref1} after its delete`);
    assert.equal((await m.get(ref2)).descriptor.digest, da.digest, `${ref2}, the same image, is kept`);
    assert.equal((await m.get(ref3)).descriptor.digest, db.digest, `${ref3}, another image, is kept`);
    await assertTags(m, refused ? [ref1, ref2, ref3] : [ref2, ref3], 'after deleting one name');
    // The last name of an image: the image goes, the others stay.
    const gone = await m.delete(ref3).then(
      () => true,
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'UNSUPPORTED', `delete ${ref3}: ${e.name}: ${e.message}`);
        return false;
      },
    );
    if (gone) await rejectsWithCode(m.get(ref3), 'MANIFEST_UNKNOWN', `${ref3} after its delete`);
    assert.equal((await m.get(ref2)).descriptor.digest, da.digest, `${ref2} is kept`);
    await rejectsWithCode(m.delete('never-written'), 'MANIFEST_UNKNOWN', 'deleting an unknown name');
    await h.cleanup?.();
  });

  if (h.keepsDescriptorAnnotations) {
    test(`${name}: the root descriptor's annotations and platform survive`, async () => {
      const image = await randomImage({ seed: 81 });
      const annotations = { 'org.example.note': 'kept', 'org.opencontainers.image.created': '2024-01-02T03:04:05Z' };
      const platform = { os: 'linux', architecture: 'arm64', variant: 'v8' };
      const src: Artifact = { ...image, descriptor: { ...image.descriptor, annotations, platform } };
      const m = await h.create();
      await m.write(ref1, src);
      const index = await randomIndex({ seed: 82 });
      const indexAnnotations = { 'org.example.kind': 'index' };
      await m.write(ref2, { ...index, descriptor: { ...index.descriptor, annotations: indexAnnotations } });
      const r = await reopen(m);
      const got = await r.get(ref1);
      assert.deepEqual(got.descriptor.annotations, annotations, 'annotations of the image descriptor');
      assert.deepEqual(got.descriptor.platform, platform, 'platform of the image descriptor');
      assert.deepEqual((await r.get(ref2)).descriptor.annotations, indexAnnotations, 'annotations of the index');
      // The index's own entries keep their platforms: they are in its bytes.
      const entries = (JSON.parse((await r.get(ref2)).manifest.toString('utf8')) as ParsedManifest).manifests ?? [];
      assert.deepEqual(
        entries.map((e) => e.platform),
        (JSON.parse(index.manifest.toString('utf8')) as ParsedManifest).manifests!.map((e) => e.platform),
      );
      await h.cleanup?.();
    });
  }
}
