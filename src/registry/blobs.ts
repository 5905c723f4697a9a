/** Blob reads, deletes and cross-repository mounts (uploads are in uploads.ts). */
import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { StorageNotFoundError, fileRegionOf, type ByteRange, type FileRegion } from '../storage/types.js';
import type { RegistryCore } from './core.js';
import type { QuotaService } from './quota.js';

/** The media type Distribution's events give blobs (the registry does not know what a blob is). */
export const BLOB_MEDIA_TYPE = 'application/octet-stream';

export interface BlobRead {
  size: number;
  stream: Readable;
  /** The open file region the stream reads, when the store reads a local file (for sendfile). */
  file?: FileRegion;
}

export class BlobService {
  constructor(
    private readonly core: RegistryCore,
    private readonly quota: QuotaService,
  ) {}

  /** Size of a blob readable through `repo`; BLOB_UNKNOWN otherwise. */
  async stat(repo: string, digest: Digest): Promise<number> {
    const { meta, blobLinks } = this.core;
    const size = await blobLinks.get(repo, digest, () => meta.blobs.get(repo, digest));
    if (size === null) throw new OciError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${repo}`, { digest });
    // A client that HEADs a blob will reference it in a manifest soon: protect it until then.
    this.core.touch(digest);
    return size;
  }

  async read(repo: string, digest: Digest, range?: ByteRange): Promise<BlobRead> {
    const size = await this.stat(repo, digest);
    try {
      const stream = await this.core.blobs.read(digest, range);
      await this.pulled(repo, digest, size);
      return { size, stream, file: fileRegionOf(stream) };
    } catch (e) {
      if (e instanceof StorageNotFoundError) {
        const message = `blob ${digest} is recorded but its bytes are missing; run "kura fsck"`;
        throw new OciError('BLOB_UNKNOWN', message, { digest });
      }
      throw e;
    }
  }

  /** A URL to send a GET of a blob readable through `repo` to, when the store hands blobs out itself; else null. */
  async redirect(repo: string, digest: Digest): Promise<string | null> {
    const { redirectUrl } = this.core.blobs;
    if (!redirectUrl) return null;
    await this.pulled(repo, digest, await this.stat(repo, digest));
    return redirectUrl(digest);
  }

  private pulled(repo: string, digest: Digest, size: number): Promise<void> {
    return this.core.recordRead({ kind: 'blob', repository: repo, digest, size, mediaType: BLOB_MEDIA_TYPE });
  }

  async delete(repo: string, digest: Digest): Promise<void> {
    this.core.requireDelete();
    const events = this.core.events('delete', { kind: 'blob', repository: repo, digest });
    if (!(await this.core.meta.blobs.unlink(repo, digest, events))) {
      throw new OciError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${repo}`, { digest });
    }
  }

  /** Links a blob from `from` into `repo` when it is readable there; false means "start a normal upload". */
  async mount(repo: string, from: string, digest: Digest): Promise<boolean> {
    const { meta, blobs } = this.core;
    const size = await meta.blobs.get(from, digest);
    if (size === null) return false;
    // Locks in the one order every writer takes them (quota scope, then digest), so replicas cannot deadlock.
    return this.quota.within(repo, digest, size, () =>
      this.core.digestLock.run(digest, async () => {
        if ((await meta.blobs.get(from, digest)) !== size) return false;
        if ((await blobs.stat(digest)) === null) return false;
        const until = this.core.now() + this.core.graceMs;
        const target = { kind: 'blob', repository: repo, digest, size, mediaType: BLOB_MEDIA_TYPE } as const;
        const events = this.core.events('mount', { ...target, fromRepository: from });
        await meta.blobs.add(repo, digest, size, until, events);
        return true;
      }),
    );
  }

  /**
   * Automatic content discovery: mounts the blob from the first repository holding it that
   * `mayPull` allows (the first 100 by name are looked at). False: start a normal upload.
   */
  async mountDiscovered(repo: string, digest: Digest, mayPull: (from: string) => boolean): Promise<boolean> {
    if (!this.core.options.automaticMount) return false;
    const from = (await this.core.meta.blobs.repositories(digest, 100)).find((r) => r !== repo && mayPull(r));
    if (from === undefined) return (await this.core.meta.blobs.get(repo, digest)) !== null;
    return this.mount(repo, from, digest);
  }
}
