/**
 * Manifests: lookups (through the lookup cache), byte-exact puts with tag immutability and quota,
 * deletes, and the linux/amd64 fallback for clients that do not accept lists.
 */
import type { Readable } from 'node:stream';
import type { ManifestRecord } from '../metadata/types.js';
import { digestAlgorithm, digestOf, isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { parseManifestInfo, type ManifestInfo } from '../oci/manifest-info.js';
import { parseManifest } from '../oci/manifest.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { isTag, parseReference, parseTag, type Reference } from '../oci/names.js';
import { StorageNotFoundError } from '../storage/types.js';
import type { Activity } from './activity.js';
import type { RegistryCore } from './core.js';
import { ManifestCache } from './manifest-cache.js';
import type { QuotaService } from './quota.js';
import { matchesAny } from './retention.js';

/** Largest annotations of a manifest with a subject (JSON bytes); 100 of them make one answer. */
export const REFERRER_ANNOTATIONS_MAX = 32 * 1024;

export interface ManifestRead {
  record: ManifestRecord;
  bytes: Buffer;
}

export interface PutManifestResult {
  digest: Digest;
  subject: Digest | null;
  tags: string[];
}

export class ManifestService {
  private readonly cache = new ManifestCache(64 * 1024 * 1024);

  constructor(
    private readonly core: RegistryCore,
    private readonly quota: QuotaService,
    private readonly activity: Activity,
  ) {}

  private async resolve(repo: string, reference: string): Promise<ManifestRecord> {
    const { meta } = this.core;
    const rec = await this.core.lookups.get(`m\0${repo}\0${reference}`, () =>
      isDigest(reference)
        ? meta.manifests.get(repo, reference)
        : meta.manifests.resolveTag(repo, readReference(repo, reference).tag!),
    );
    if (!rec) {
      throw new OciError('MANIFEST_UNKNOWN', `manifest ${reference} unknown to repository ${repo}`, { reference });
    }
    return rec;
  }

  async stat(repo: string, reference: string): Promise<ManifestRecord> {
    return this.resolve(repo, reference);
  }

  /** A manifest GET: counts as a pull (a HEAD does not, as on Docker Hub). */
  async get(repo: string, reference: string): Promise<ManifestRead> {
    const record = await this.resolve(repo, reference);
    const bytes = await this.bytes(record.digest);
    this.activity.pulled(repo, record.digest, this.core.now());
    const { digest, mediaType, size } = record;
    const tag = isDigest(reference) ? undefined : reference;
    await this.core.recordRead({ kind: 'manifest', repository: repo, digest, mediaType, size, tag });
    return { record, bytes };
  }

  isImmutable(repo: string, tag: string): boolean {
    return (this.core.options.immutability ?? []).some(
      (r) => matchesAny(r.repositories, repo) && matchesAny(r.tags, tag),
    );
  }

  private refuseImmutable(repo: string, tags: string[]): never {
    const message = `tag ${tags.join(', ')} in ${repo} is immutable: push under a new tag instead`;
    throw new OciError('DENIED', message, { tags });
  }

  async bytes(digest: Digest): Promise<Buffer> {
    const cached = this.cache.get(digest);
    if (cached) return cached;
    let stream: Readable;
    try {
      stream = await this.core.blobs.read(digest);
    } catch (e) {
      if (e instanceof StorageNotFoundError) {
        const message = `manifest ${digest} is recorded but its bytes are missing; run "kura fsck"`;
        throw new OciError('MANIFEST_UNKNOWN', message);
      }
      throw e;
    }
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    this.cache.set(digest, bytes);
    return bytes;
  }

  /**
   * Stores a manifest byte-exact. `reference` is a tag or a digest (which must match the bytes);
   * `extraTags` are the `?tag=` parameters of a push by digest; `partial` (the pull-through cache) stores it
   * before the blobs and child manifests it names.
   */
  async put(
    repo: string,
    reference: string,
    contentType: string | undefined,
    bytes: Buffer,
    extraTags: string[] = [],
    partial = false,
  ): Promise<PutManifestResult> {
    const max = this.core.options.manifestMaxBytes;
    if (bytes.length > max) throw new OciError('SIZE_TOO_LARGE', `manifest is larger than ${max} bytes`);
    const ref = parseReference(reference);
    const algorithm = ref.digest ? digestAlgorithm(ref.digest) : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (ref.digest && ref.digest !== digest) {
      const message = `manifest bytes have digest ${digest}, not ${ref.digest}`;
      throw new OciError('DIGEST_INVALID', message, { digest: ref.digest });
    }
    const tags = [...new Set([...(ref.tag ? [ref.tag] : []), ...extraTags.map(parseTag)])];
    const info = parseManifestInfo(bytes, contentType);
    if (info.subject && info.annotations) {
      if (Buffer.byteLength(JSON.stringify(info.annotations)) > REFERRER_ANNOTATIONS_MAX) {
        // Every referrers answer repeats these: keep them small (security audit M10).
        const kib = REFERRER_ANNOTATIONS_MAX / 1024;
        throw new OciError(
          'MANIFEST_INVALID',
          `the annotations of a manifest with a subject may take at most ${kib} KiB`,
        );
      }
    }
    await this.checkDeclaredSizes(repo, info);
    return this.quota.within(repo, digest, bytes.length, () =>
      this.core.digestLock.run(digest, () => this.store(repo, digest, bytes, info, tags, partial)),
    );
  }

  /**
   * Every descriptor's `size` must be the stored size of what it names (clients would fail on pull):
   * 400 MANIFEST_INVALID naming the first descriptor that differs. Unknown digests are left to the
   * store's transaction (MANIFEST_BLOB_UNKNOWN).
   */
  private async checkDeclaredSizes(repo: string, info: ManifestInfo): Promise<void> {
    const { meta } = this.core;
    for (const d of info.declared) {
      const stored =
        d.kind === 'blob'
          ? await meta.blobs.get(repo, d.digest)
          : ((await meta.manifests.get(repo, d.digest))?.size ?? null);
      if (stored !== null && stored !== d.size) {
        const message =
          `manifest invalid: ${d.where} declares size ${d.size} for ${d.digest}, which has ${stored} ` + `bytes`;
        throw new OciError('MANIFEST_INVALID', message, {
          descriptor: d.where,
          digest: d.digest,
          size: d.size,
          stored,
        });
      }
    }
  }

  private async store(
    repo: string,
    digest: Digest,
    bytes: Buffer,
    info: ManifestInfo,
    tags: string[],
    partial: boolean,
  ) {
    const { blobs, meta, lookups } = this.core;
    // Bytes first (durable), metadata second: a crash in between leaves only unreferenced bytes.
    if ((await blobs.stat(digest)) === null) await blobs.put(digest, bytes);
    const record: ManifestRecord = {
      repo,
      digest,
      mediaType: info.mediaType,
      size: bytes.length,
      artifactType: info.artifactType,
      subject: info.subject,
      annotations: info.annotations,
      createdAt: this.core.now(),
    };
    lookups.invalidate();
    const fixed = tags.filter((t) => this.isImmutable(repo, t));
    const links = { blobs: info.blobs, manifests: info.manifests, partial };
    const target = {
      kind: 'manifest',
      repository: repo,
      digest,
      mediaType: info.mediaType,
      size: bytes.length,
    } as const;
    const events = this.core.events('push', ...(tags.length > 0 ? tags.map((tag) => ({ ...target, tag })) : [target]));
    const { missing, refused } = await meta.manifests.put(record, links, tags, fixed, events);
    lookups.invalidate();
    if ((refused && refused.length > 0) || missing.length > 0) await this.dropUnrecorded(digest);
    if (refused && refused.length > 0) this.refuseImmutable(repo, refused);
    if (missing.length > 0) throw unknownReferences(repo, missing);
    this.cache.set(digest, bytes);
    const result: PutManifestResult = { digest, subject: info.subject, tags };
    return result;
  }

  /**
   * After a refused manifest PUT (under its digest's lock): its bytes go again unless a row records
   * them (the same manifest stored before, or a blob of that digest), so a refusal leaves nothing.
   */
  private async dropUnrecorded(digest: Digest): Promise<void> {
    if ((await this.core.meta.blobs.getGlobal(digest)) === null) await this.core.blobs.delete(digest);
  }

  async delete(repo: string, reference: string): Promise<void> {
    const { meta, lookups } = this.core;
    this.core.requireDelete();
    const ref = readReference(repo, reference);
    if (this.core.options.immutability?.length) {
      const tags = ref.tag
        ? [ref.tag]
        : ((await meta.manifests.snapshot(repo))?.tags ?? []).filter((t) => t.digest === ref.digest).map((t) => t.name);
      const fixed = tags.filter((t) => this.isImmutable(repo, t));
      if (fixed.length > 0) this.refuseImmutable(repo, fixed);
    }
    lookups.invalidate();
    const target = { kind: 'manifest', repository: repo } as const;
    const ok = ref.digest
      ? await meta.manifests.delete(repo, ref.digest, this.core.events('delete', { ...target, digest: ref.digest }))
      : await meta.manifests.deleteTag(repo, ref.tag!, this.core.events('delete', { ...target, tag: ref.tag! }));
    lookups.invalidate();
    if (!ok)
      throw new OciError('MANIFEST_UNKNOWN', `manifest ${reference} unknown to repository ${repo}`, { reference });
  }

  /** For clients that do not accept lists: the linux/amd64 child of a Docker manifest list, as Distribution does. */
  async defaultPlatformChild(repo: string, list: ManifestRead): Promise<ManifestRead | null> {
    if (list.record.mediaType !== MediaTypes.DockerManifestList) return null;
    // Stored lists passed the parser when they were pushed (leniently: descriptors may lack mediaType).
    const doc = parseManifest(list.bytes, list.record.mediaType, { lenientMediaType: true });
    if (doc.kind !== 'index') return null;
    const child = doc.manifest.manifests.find(
      (m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64',
    );
    if (!child) return null;
    const record = await this.core.meta.manifests.get(repo, child.digest);
    return record ? { record, bytes: await this.bytes(record.digest) } : null;
  }
}

/** MANIFEST_BLOB_UNKNOWN naming at most ten of the missing digests (a manifest may list thousands: audit I9). */
function unknownReferences(repo: string, missing: Digest[]): OciError {
  const errs = missing.slice(0, 10).map((d) => ({
    code: 'MANIFEST_BLOB_UNKNOWN' as const,
    message: `manifest references ${d}, which is unknown to repository ${repo}`,
    detail: { digest: d } as Record<string, unknown>,
  }));
  if (missing.length > errs.length) {
    const more = missing.length - errs.length;
    errs.push({ code: 'MANIFEST_BLOB_UNKNOWN', message: `and ${more} more unknown digests`, detail: { more } });
  }
  return new OciError('MANIFEST_BLOB_UNKNOWN', errs[0]!.message, errs[0]!.detail, errs.slice(1));
}

/**
 * A manifest reference to read or delete: a name that can never be a tag (such as the conformance
 * suite's `.INVALID_MANIFEST_NAME`) names nothing, so it is 404 MANIFEST_UNKNOWN, not a 400; only a
 * PUT refuses it as invalid. A malformed digest stays 400 DIGEST_INVALID.
 */
export function readReference(repo: string, reference: string): Reference {
  if (!reference.includes(':') && !isTag(reference)) {
    const shown = reference.slice(0, 200);
    throw new OciError('MANIFEST_UNKNOWN', `manifest ${shown} unknown to repository ${repo}`, { reference: shown });
  }
  return parseReference(reference);
}
