/** An OCI image layout read in place inside a tar archive (oci-archive, and docker-archives that hold one). */
import type { Readable } from 'node:stream';
import type { Artifact, BlobReader, Descriptor } from '../../oci/artifact.js';
import { digestAlgorithm, digestHex, isDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { layoutTags, parseIndexJson, resolveLayoutRef, type IndexJson } from './index-json.js';

export { REF_NAME } from './index-json.js';
export const CONTAINERD_NAME = 'io.containerd.image.name';

/** Where a blob lives in an OCI layout: `blobs/<alg>/<hex>`. */
export function blobPath(d: Digest): string {
  if (!isDigest(d)) throw new OciError('DIGEST_INVALID', `invalid digest ${String(d).slice(0, 100)}`);
  return `blobs/${digestAlgorithm(d)}/${digestHex(d)}`;
}

/** What a TarLayout reads through: a tar's entries by name (archive/tar-index.ts's TarIndex is one). */
export interface TarEntries {
  /** The archive's file, for messages. */
  readonly file: string;
  find(name: string): { size: number } | undefined;
  read(name: string): Promise<Buffer>;
  open(name: string): Readable;
}

/** An OCI image layout inside a tar archive, read in place: the reading half of OciLayout. */
export class TarLayout<T extends TarEntries = TarEntries> {
  private idx?: IndexJson;
  constructor(readonly tar: T) {}

  /** Whether the archive holds an OCI layout (an `index.json`). */
  isLayout(): boolean {
    return this.tar.find('index.json') !== undefined;
  }

  /** index.json, parsed once; missing or null `manifests` read as empty. */
  async index(): Promise<IndexJson> {
    if (!this.idx) {
      const where = `index.json in ${this.tar.file}`;
      const bytes = await this.tar.read('index.json').catch((e: Error) => {
        throw new OciError('MANIFEST_INVALID', `${where} is not a readable OCI index: ${e.message}`);
      });
      this.idx = parseIndexJson(bytes, where);
    }
    return this.idx;
  }

  readonly blobs: BlobReader = {
    open: async (d) => {
      if (!this.has(d.digest)) throw new OciError('BLOB_UNKNOWN', `${this.tar.file} has no blob ${d.digest}`);
      return this.tar.open(blobPath(d.digest));
    },
  };

  /** Whether the archive holds the blob. */
  has(d: Digest): boolean {
    return this.tar.find(blobPath(d)) !== undefined;
  }

  /** Reads a manifest blob by descriptor (whole; callers verify). */
  async manifest(d: Descriptor): Promise<Buffer> {
    if (!this.has(d.digest)) throw new OciError('MANIFEST_UNKNOWN', `${this.tar.file} has no manifest ${d.digest}`);
    return this.tar.read(blobPath(d.digest));
  }

  /** Tags: the `org.opencontainers.image.ref.name` annotations of index.json. */
  async tags(): Promise<string[]> {
    return layoutTags((await this.index()).manifests);
  }

  /** OciLayout.get's semantics: by tag, by digest (any manifest blob), or '' for the only image. */
  async get(ref: string): Promise<Artifact> {
    const { manifests } = await this.index();
    const r = await resolveLayoutRef(manifests, ref, {
      size: async (d) => this.tar.find(blobPath(d))?.size,
      reader: this.blobs,
      where: this.tar.file,
    });
    return { ...r, blobs: this.blobs };
  }
}
