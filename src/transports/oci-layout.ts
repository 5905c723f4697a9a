import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Artifact, BlobReader, Descriptor, Sink, Source } from '../oci/artifact.js';
import { digestAlgorithm, digestHex, finishDigest, isDigest, newHasher, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { isImageManifestMediaType, isIndexMediaType, MediaTypes } from '../oci/mediatypes.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** What a manifest or index references, as descriptors (foreign layers with `urls` are skipped). */
export function children(manifest: Buffer): Descriptor[] {
  const doc = JSON.parse(manifest.toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  if (Array.isArray(doc.manifests)) return doc.manifests;
  return [...(doc.config ? [doc.config] : []), ...(doc.layers ?? []).filter((l) => !l.urls?.length)];
}

function isManifestType(mt: string): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt);
}

/**
 * An OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), as skopeo, umoci
 * and buildah write it. Tags are the `org.opencontainers.image.ref.name` annotations of index.json.
 */
export class OciLayout implements Source, Sink {
  constructor(readonly dir: string) {}

  private blobPath(d: Digest): string {
    if (!isDigest(d)) throw new OciError('DIGEST_INVALID', `invalid digest ${String(d).slice(0, 100)}`);
    return join(this.dir, 'blobs', digestAlgorithm(d), digestHex(d));
  }

  private async index(): Promise<IndexJson> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8')) as IndexJson;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, manifests: [] };
      throw new Error(`${this.dir}/index.json is not a readable OCI index: ${(e as Error).message}`);
    }
  }

  readonly blobs: BlobReader = {
    open: async (d) => {
      const path = this.blobPath(d.digest);
      if (!existsSync(path)) throw new OciError('BLOB_UNKNOWN', `${this.dir} has no blob ${d.digest}`);
      return createReadStream(path);
    },
  };

  /** Tags in index.json. */
  async tags(): Promise<string[]> {
    return (await this.index()).manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t).sort();
  }

  async get(tag: string): Promise<Artifact> {
    const idx = await this.index();
    const found = idx.manifests.filter((m) => m.annotations?.[REF_NAME] === tag);
    const d = found[0] ?? (idx.manifests.length === 1 && tag === '' ? idx.manifests[0] : undefined);
    if (!d) throw new OciError('MANIFEST_UNKNOWN', `${this.dir} has no image tagged "${tag}" (tags: ${(await this.tags()).join(', ') || 'none'})`);
    const { annotations: _a, ...descriptor } = d;
    return { descriptor, manifest: await readFile(this.blobPath(d.digest)), blobs: this.blobs };
  }

  /** Writes one blob, verified against its descriptor, atomically; skips blobs already present. */
  private async putBlob(d: Descriptor, from: BlobReader): Promise<void> {
    const path = this.blobPath(d.digest);
    if (existsSync(path) && (await stat(path)).size === d.size) return;
    await mkdir(join(this.dir, 'blobs', digestAlgorithm(d.digest)), { recursive: true });
    const tmp = `${path}.${randomUUID()}.tmp`;
    const algorithm = digestAlgorithm(d.digest);
    const hash = newHasher(algorithm);
    let size = 0;
    const verify = new Transform({
      transform(chunk: Buffer, _e, cb) {
        size += chunk.length;
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      const out = await open(tmp, 'wx');
      await pipeline(await from.open(d), verify, out.createWriteStream());
      const got = finishDigest(algorithm, hash);
      if (got !== d.digest || size !== d.size) throw new OciError('DIGEST_INVALID', `blob ${d.digest}: got ${size} bytes with digest ${got}`);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  private async putTree(d: Descriptor, manifest: Buffer, from: BlobReader): Promise<void> {
    for (const c of children(manifest)) {
      if (isManifestType(c.mediaType)) {
        const chunks: Buffer[] = [];
        for await (const x of await from.open(c)) chunks.push(x as Buffer);
        await this.putTree(c, Buffer.concat(chunks), from);
      } else {
        await this.putBlob(c, from);
      }
    }
    await this.putBlob(d, { open: async () => Readable.from([manifest]) });
  }

  async write(tag: string, artifact: Artifact): Promise<Descriptor> {
    await mkdir(this.dir, { recursive: true });
    await this.putTree(artifact.descriptor, artifact.manifest, artifact.blobs);
    if (!existsSync(join(this.dir, 'oci-layout'))) await writeFile(join(this.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const idx = await this.index();
    const entry: Descriptor = { ...artifact.descriptor, annotations: { ...(artifact.descriptor.annotations ?? {}), [REF_NAME]: tag } };
    idx.manifests = [...idx.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag), entry];
    const tmp = join(this.dir, `index.json.${randomUUID()}.tmp`);
    await writeFile(tmp, JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: idx.manifests, ...(idx.annotations ? { annotations: idx.annotations } : {}) }));
    await rename(tmp, join(this.dir, 'index.json'));
    return artifact.descriptor;
  }
}

/** `copy` is just this, whatever the two media are. */
export async function copyImage(from: Source, fromTag: string, to: Sink, toTag: string): Promise<Descriptor> {
  return to.write(toTag, await from.get(fromTag));
}
