/** An in-memory medium (Source and Sink), for tests and for building images before writing them. */
import { Readable } from 'node:stream';
import type { Artifact, Deleter, Descriptor, Sink, Source, TagLister, WriteOptions } from '../oci/artifact.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MemoryBlobs } from '../oci/random.js';
import { openVerified } from '../oci/blob.js';
import { loadTree, stripName, treeBlobs, treeManifests } from '../oci/tree.js';

/** Images in memory: the reference transport the conformance suite is checked against. */
export class MemoryImages implements Source, Sink, TagLister, Deleter {
  readonly blobs = new MemoryBlobs();
  private readonly manifests = new Map<Digest, { descriptor: Descriptor; manifest: Buffer }>();
  private readonly tagMap = new Map<string, Digest>();

  async get(ref: string): Promise<Artifact> {
    const digest = isDigest(ref) ? ref : this.tagMap.get(ref);
    const m = digest && this.manifests.get(digest);
    if (!m) throw new OciError('MANIFEST_UNKNOWN', `no image "${ref}" in memory`);
    return { descriptor: m.descriptor, manifest: m.manifest, blobs: this.blobs };
  }

  async write(ref: string, a: Artifact, opts: WriteOptions = {}): Promise<Descriptor> {
    const tree = await loadTree(a);
    for (const b of treeBlobs(tree)) {
      const ev = { digest: b.digest, mediaType: b.mediaType, total: b.size };
      if (this.blobs.map.has(b.digest)) {
        opts.onProgress?.({ ...ev, complete: b.size, status: 'skipped' });
        continue;
      }
      opts.onProgress?.({ ...ev, complete: 0, status: 'start' });
      const chunks: Buffer[] = [];
      for await (const c of await openVerified(a.blobs, b)) chunks.push(c as Buffer);
      this.blobs.map.set(b.digest, Buffer.concat(chunks));
      opts.onProgress?.({ ...ev, complete: b.size, status: 'done' });
    }
    for (const m of treeManifests(tree)) {
      this.blobs.map.set(m.descriptor.digest, m.manifest);
      this.manifests.set(m.descriptor.digest, { descriptor: stripName(m.descriptor), manifest: m.manifest });
    }
    if (!isDigest(ref)) this.tagMap.set(ref, a.descriptor.digest);
    return stripName(a.descriptor);
  }

  async tags(): Promise<string[]> {
    return [...this.tagMap.keys()].sort();
  }

  async delete(ref: string): Promise<void> {
    if (isDigest(ref)) {
      if (!this.manifests.delete(ref)) throw new OciError('MANIFEST_UNKNOWN', `no manifest ${ref} in memory`);
      for (const [t, d] of this.tagMap) if (d === ref) this.tagMap.delete(t);
    } else if (!this.tagMap.delete(ref)) throw new OciError('MANIFEST_UNKNOWN', `no tag "${ref}" in memory`);
  }

  /** A readable for tests that need raw access. */
  read(d: Digest): Readable {
    const b = this.blobs.map.get(d);
    if (!b) throw new OciError('BLOB_UNKNOWN', `no blob ${d}`);
    return Readable.from([b]);
  }
}

export { stripName } from '../oci/tree.js';
