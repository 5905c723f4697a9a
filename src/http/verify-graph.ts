/** A repository of this registry as a read-only signing `GraphStore`, for the pull policy (verify-rules.ts). */
import type { Readable } from 'node:stream';
import type { Artifact, Descriptor } from '../oci/artifact.js';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { Registry } from '../registry/registry.js';
import type { GraphStore } from '../signing/store.js';

function notFound(e: unknown): boolean {
  return e instanceof OciError && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN');
}

/**
 * Reads manifests, cosign tags and referrers straight from the Registry services (no HTTP, no pull recorded:
 * `statManifest` + `manifestBytes` rather than `getManifest`). Writing is not its business.
 */
export class RepositoryGraph implements GraphStore {
  constructor(
    private readonly registry: Registry,
    private readonly repo: string,
  ) {}

  get name(): string {
    return this.repo;
  }

  async get(ref: string): Promise<Artifact> {
    const record = await this.registry.statManifest(this.repo, ref);
    const manifest = await this.registry.manifestBytes(record.digest);
    const descriptor: Descriptor = { mediaType: record.mediaType, digest: record.digest, size: record.size };
    return {
      descriptor,
      manifest,
      blobs: {
        open: async (d: Descriptor): Promise<Readable> => (await this.registry.readBlob(this.repo, d.digest)).stream,
      },
    };
  }

  async find(tag: string): Promise<Artifact | undefined> {
    try {
      return await this.get(tag);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  async referrers(digest: Digest): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    let last: string | undefined;
    // Every page: a signature may sort after other referrers.
    for (;;) {
      const page = await this.registry.referrers(this.repo, digest, undefined, { last });
      for (const r of page.items) {
        out.push({
          mediaType: r.mediaType,
          digest: r.digest,
          size: r.size,
          ...(r.artifactType ? { artifactType: r.artifactType } : {}),
          ...(r.annotations ? { annotations: r.annotations } : {}),
        });
      }
      if (page.next === null || page.items.length === 0) return out;
      last = page.next;
    }
  }

  put(): Promise<Descriptor> {
    return Promise.reject(new Error('the pull policy reads the registry; it never writes'));
  }

  putReferrer(): Promise<Descriptor> {
    return this.put();
  }
}
