import { randomUUID, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  digestAlgorithm,
  digestOf,
  finishDigest,
  newHasher,
  parseDigest,
  isDigest,
  type Digest,
  type DigestAlgorithm,
} from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { parseManifestInfo, type ManifestInfo } from '../oci/manifest-info.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { isTag, parseTag } from '../oci/names.js';
import type { AuditEvent, ManifestRecord, MetadataStore, Page, UploadRecord, UsageReport, UsageScope } from '../metadata/types.js';
import { StorageNotFoundError, fileRegionOf, type BlobStore, type ByteRange, type FileRegion } from '../storage/types.js';
import { HashingCounter } from './hashing.js';
import { KeyedLock } from './lock.js';
import { collectUnrecorded } from './unrecorded.js';
import { matchesAny, planEcr, planRule, type EcrLifecyclePolicy, type RetentionAction, type RetentionRule } from './retention.js';
import { ManifestCache } from './manifest-cache.js';

/** Referrers per answer of the referrers API (more: a Link to the next page). */
export const REFERRERS_PAGE = 100;
/** Largest annotations of a manifest with a subject (JSON bytes); 100 of them make one answer. */
export const REFERRER_ANNOTATIONS_MAX = 32 * 1024;

export interface RegistryOptions {
  deleteEnabled: boolean;
  manifestMaxBytes: number;
  /** 0 = no limit. */
  blobMaxBytes: number;
  tagsPerPush: number;
  pageMax: number;
  /**
   * Cache manifest lookups (by tag and digest) in process memory. Only correct when every write to
   * the metadata store goes through this Registry (the embedded store, opened exclusively).
   */
  cacheLookups?: boolean;
  /** How long blobs just uploaded, mounted, HEADed or fetched are safe from GC (ms; default 1 h). */
  gcGraceMs?: number;
  /** Tags that, once pushed, cannot be moved to another manifest or deleted. */
  immutability?: ImmutabilityRule[];
  /** Retention: Kura rules and ECR lifecycle policies, first matching repository glob wins. */
  retention?: RetentionConfig;
  /** Most open upload sessions per caller (0 = no limit). */
  uploadsPerCaller?: number;
  /**
   * A mount without a usable `from` looks for the blob in the repositories the caller may pull
   * (automatic content discovery, OCI_AUTOMATIC_CROSSMOUNT=1); off, such a mount starts an upload.
   */
  automaticMount?: boolean;
  /** Storage limits per repository or per namespace (first path segment), shared blobs counted once. */
  quotas?: QuotaRule[];
  now?: () => number;
}

export interface QuotaRule {
  /** Each repository matching these globs gets its own limit... */
  repositories?: string[];
  /** ...or each namespace (first path segment) matching these globs. */
  namespaces?: string[];
  limitBytes: number;
}

export interface ImmutabilityRule {
  repositories: string[];
  tags: string[];
}

export interface RetentionConfig {
  rules: RetentionRule[];
  ecr: { repositories: string[]; policy: EcrLifecyclePolicy }[];
}

export interface RetentionPlan {
  at: number;
  repositories: number;
  actions: RetentionAction[];
}

/** What `fsck` found (and, with repair, fixed). */
export interface FsckReport {
  checked: number;
  /** Live rows whose bytes are absent or of another size. Repair drops the row and its links. */
  missing: Digest[];
  /** Bytes that do not hash to their digest (only with verify). Repair deletes bytes and row. */
  corrupt: Digest[];
  /** Bytes no row knows. Repair deletes them. */
  orphaned: Digest[];
  /** Rows a GC marked and has not swept yet: not an error; repair finishes the sweep. */
  pending: Digest[];
  repaired: boolean;
}

/** What one garbage collection found and did. */
export interface GcResult {
  dryRun: boolean;
  /** Unreferenced blobs past the grace period: marked and swept, or only listed on a dry run. */
  blobs: { digest: Digest; size: number }[];
  bytes: number;
  /** The grace period of this run. */
  graceMs: number;
  /** Unreferenced blobs kept because they were created, uploaded, mounted or read within the grace period. */
  kept: { digest: Digest; size: number }[];
  /** Blobs whose bytes were deleted (including ones an interrupted GC had marked). */
  swept: number;
  /**
   * Stored bytes no blob row records, written before the grace period (a refused push, a crash
   * between bytes and row): deleted, or only listed on a dry run.
   */
  unrecorded: { digest: Digest; size: number }[];
  uploadsPurged: number;
}

export interface BlobRead {
  size: number;
  stream: Readable;
  /** The open file region the stream reads, when the store reads a local file (for sendfile). */
  file?: FileRegion;
}

export interface ManifestRead {
  record: ManifestRecord;
  bytes: Buffer;
}

export interface PutManifestResult {
  digest: Digest;
  subject: Digest | null;
  tags: string[];
}

/** Pagination the HTTP layer renders into `Link` headers. */
export interface PageResult<T> {
  items: T[];
  /** Set when more results follow: the `last` value of the next page. */
  next: string | null;
}

/** An upload's in-process hash, valid while it has seen exactly `offset` bytes. */
interface LiveHash {
  offset: number;
  algorithm: DigestAlgorithm;
  hash: Hash;
}

/**
 * The registry's domain services over a BlobStore and a MetadataStore. No HTTP here: methods take
 * parsed inputs, return data and throw OciError.
 *
 * Order of writes is the crash-safety argument: bytes become durable under their digest first,
 * metadata rows second. So a crash can leave unreferenced bytes (harmless, collectable) but never
 * a row pointing at bytes that are not there.
 */
export class Registry {
  private readonly now: () => number;
  private readonly hashes = new Map<string, LiveHash>();
  private readonly uploadLock = new KeyedLock();
  private readonly manifestCache = new ManifestCache(64 * 1024 * 1024);
  /** `repo\0reference` → record; cleared on every manifest or tag change (see options.cacheLookups). */
  private readonly lookups = new Map<string, object>();
  /** Bumped around every change, so a lookup that raced with a change is not cached. */
  private lookupGeneration = 0;
  /** Serialises, per digest, GC's sweep with anything that makes those bytes live again. */
  private readonly digestLock = new KeyedLock();
  /** Last HEAD/GET of each blob: a lease in memory, so reads stay free of writes (see README.md). */
  private readonly blobTouches = new Map<Digest, number>();
  /** Serialises quota check + link per scope, so two uploads cannot both fit the last free bytes. */
  private readonly quotaLock = new KeyedLock();
  /** Audit events not yet written: flushed in batches by flushAudit(). */
  private auditBuffer: AuditEvent[] = [];
  /** Manifest pulls not yet written (`repo\0digest` → time): flushed in batches by flushPulls(). */
  private pulls = new Map<string, { repo: string; digest: Digest; at: number }>();

  constructor(
    readonly blobs: BlobStore,
    readonly meta: MetadataStore,
    readonly options: RegistryOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  // ---- blobs ---------------------------------------------------------------------------------

  /** Size of a blob readable through `repo`; BLOB_UNKNOWN otherwise. */
  async statBlob(repo: string, digest: Digest): Promise<number> {
    const size = await this.meta.getBlob(repo, digest);
    if (size === null) throw new OciError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${repo}`, { digest });
    // A client that HEADs a blob will reference it in a manifest soon: protect it until then.
    this.blobTouches.set(digest, this.now());
    return size;
  }

  private get graceMs(): number {
    return this.options.gcGraceMs ?? 3_600_000;
  }

  async readBlob(repo: string, digest: Digest, range?: ByteRange): Promise<BlobRead> {
    const size = await this.statBlob(repo, digest);
    try {
      const stream = await this.blobs.read(digest, range);
      return { size, stream, file: fileRegionOf(stream) };
    } catch (e) {
      if (e instanceof StorageNotFoundError) {
        throw new OciError('BLOB_UNKNOWN', `blob ${digest} is recorded but its bytes are missing; run "kura fsck"`, { digest });
      }
      throw e;
    }
  }

  async deleteBlob(repo: string, digest: Digest): Promise<void> {
    this.requireDelete();
    if (!(await this.meta.unlinkBlob(repo, digest))) {
      throw new OciError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${repo}`, { digest });
    }
  }

  /** Links a blob from `from` into `repo` when it is readable there; false means "start a normal upload". */
  async mountBlob(repo: string, from: string, digest: Digest): Promise<boolean> {
    return this.digestLock.run(digest, async () => {
      const size = await this.meta.getBlob(from, digest);
      if (size === null) return false;
      if ((await this.blobs.stat(digest)) === null) return false;
      await this.withinQuota(repo, digest, size, () => this.meta.addBlob(repo, digest, size, this.now() + this.graceMs));
      return true;
    });
  }

  /**
   * Automatic content discovery: mounts the blob from the first repository holding it that
   * `mayPull` allows (the first 100 by name are looked at). False: start a normal upload.
   */
  async mountDiscovered(repo: string, digest: Digest, mayPull: (from: string) => boolean): Promise<boolean> {
    if (!this.options.automaticMount) return false;
    const from = (await this.meta.blobRepositories(digest, 100)).find((r) => r !== repo && mayPull(r));
    if (from === undefined) return (await this.meta.getBlob(repo, digest)) !== null;
    return this.mountBlob(repo, from, digest);
  }

  // ---- uploads -------------------------------------------------------------------------------

  async startUpload(repo: string, algorithm: DigestAlgorithm = 'sha256', owner?: string): Promise<UploadRecord> {
    const max = this.options.uploadsPerCaller ?? 0;
    if (owner && max > 0 && (await this.meta.countUploads(owner)) >= max) {
      throw new OciError('TOOMANYREQUESTS', `${max} upload sessions are open already; finish or cancel some first`, { limit: max });
    }
    const t = this.now();
    const rec: UploadRecord = { id: randomUUID(), repo, offset: 0, createdAt: t, updatedAt: t, owner: owner ?? null };
    await this.meta.createUpload(rec);
    this.hashes.set(rec.id, { offset: 0, algorithm, hash: newHasher(algorithm) });
    return rec;
  }

  /** The session of `id` in `repo`, or BLOB_UPLOAD_UNKNOWN (also for sessions whose bytes vanished). */
  async getUpload(repo: string, id: string): Promise<UploadRecord> {
    const rec = await this.meta.getUpload(id);
    if (!rec || rec.repo !== repo) throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${id} unknown`, { uuid: id });
    return rec;
  }

  /**
   * Appends a chunk. `range` (inclusive) must start at the current offset, else RANGE_INVALID (416).
   * Resolves to the new durable offset.
   */
  async patchUpload(repo: string, id: string, body: Readable, range?: ByteRange, contentLength?: number): Promise<number> {
    return this.uploadLock.run(id, async () => {
      const rec = await this.getUpload(repo, id);
      const offset = await this.appendChecked(rec, body, range, contentLength);
      await this.meta.updateUpload(id, offset, this.now());
      return offset;
    });
  }

  /** Closes an upload with an optional last chunk; verifies digest and size; the blob becomes visible. */
  async completeUpload(
    repo: string,
    id: string,
    digest: Digest,
    body?: Readable,
    range?: ByteRange,
    contentLength?: number,
  ): Promise<number> {
    return this.uploadLock.run(id, async () => {
      const rec = await this.getUpload(repo, id);
      const offset = body ? await this.appendChecked(rec, body, range, contentLength) : rec.offset;
      const actual = await this.uploadDigest(rec, offset, digestAlgorithm(digest));
      if (actual !== digest) {
        await this.dropUpload(id);
        throw new OciError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`, { digest });
      }
      if (offset === 0 && (await this.blobs.uploadSize(id)) === null) {
        // A zero-length blob closed without any PATCH: the upload has no bytes in storage yet.
        await this.blobs.writeUpload(id, 0, Readable.from([]));
      }
      // Under the digest's lock: a GC sweeping this digest either finished (we write fresh bytes) or
      // has not started (addBlob revives the row and the sweep then leaves it alone).
      try {
        await this.withinQuota(repo, digest, offset, () =>
          this.digestLock.run(digest, async () => {
            await this.blobs.commitUpload(id, digest, offset);
            await this.meta.addBlob(repo, digest, offset, this.now() + this.graceMs);
          }),
        );
      } catch (e) {
        if (e instanceof OciError && e.code === 'DENIED') await this.dropUpload(id);
        throw e;
      }
      await this.meta.deleteUpload(id);
      this.hashes.delete(id);
      return offset;
    });
  }

  /** POST ?digest= : the whole blob in one request. */
  async monolithicUpload(repo: string, digest: Digest, body: Readable, contentLength?: number): Promise<number> {
    const rec = await this.startUpload(repo, digestAlgorithm(digest));
    try {
      return await this.completeUpload(repo, rec.id, digest, body, undefined, contentLength);
    } catch (e) {
      await this.dropUpload(rec.id);
      throw e;
    }
  }

  async cancelUpload(repo: string, id: string): Promise<void> {
    await this.uploadLock.run(id, async () => {
      await this.getUpload(repo, id);
      await this.dropUpload(id);
    });
  }

  /** Removes upload sessions idle since before `olderThanMs` ago, and upload bytes no session owns. */
  async purgeUploads(olderThanMs: number): Promise<number> {
    let n = 0;
    for (const rec of await this.meta.listStaleUploads(this.now() - olderThanMs)) {
      await this.uploadLock.run(rec.id, () => this.dropUpload(rec.id));
      n++;
    }
    for await (const id of this.blobs.listUploads()) {
      if (!(await this.meta.getUpload(id))) {
        await this.uploadLock.run(id, () => this.blobs.deleteUpload(id));
        n++;
      }
    }
    return n;
  }

  private async dropUpload(id: string): Promise<void> {
    this.hashes.delete(id);
    await this.blobs.deleteUpload(id);
    await this.meta.deleteUpload(id);
  }

  /** Appends one chunk after checking it starts at the session's offset and has the announced length. */
  private async appendChecked(rec: UploadRecord, body: Readable, range?: ByteRange, contentLength?: number): Promise<number> {
    if (range && range.start !== rec.offset) {
      body.resume();
      throw new OciError('RANGE_INVALID', `chunk starts at ${range.start} but the upload has ${rec.offset} bytes`, {
        offset: rec.offset,
      });
    }
    const expected = range ? range.end - range.start + 1 : contentLength;
    const offset = await this.appendChunk(rec, body);
    if (expected !== undefined && offset - rec.offset !== expected) {
      // Not recorded: the next write starts again at rec.offset and discards these bytes.
      this.hashes.delete(rec.id);
      throw new OciError('SIZE_INVALID', `chunk had ${offset - rec.offset} bytes, expected ${expected}`);
    }
    return offset;
  }

  private async appendChunk(rec: UploadRecord, body: Readable): Promise<number> {
    let live = this.hashes.get(rec.id);
    if (live && live.offset !== rec.offset) {
      this.hashes.delete(rec.id);
      live = undefined;
    }
    if (!live && rec.offset === 0) {
      live = { offset: 0, algorithm: 'sha256', hash: newHasher('sha256') };
      this.hashes.set(rec.id, live);
    }
    const limit = this.options.blobMaxBytes > 0 ? this.options.blobMaxBytes - rec.offset : 0;
    const counter = new HashingCounter(live?.hash ?? null, limit);
    // The store attaches its pipeline only after opening the file: until then an error (limit
    // exceeded, client gone) must have a listener, or it would be an uncaught 'error' event.
    counter.on('error', () => {});
    body.once('error', (e) => counter.destroy(e));
    body.pipe(counter);
    try {
      const size = await this.blobs.writeUpload(rec.id, rec.offset, counter);
      if (live) live.offset = size;
      return size;
    } catch (e) {
      this.hashes.delete(rec.id);
      if (e instanceof StorageNotFoundError) {
        // The session row outlived its bytes (crash between commit and cleanup): it is unknown now.
        await this.meta.deleteUpload(rec.id);
        throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${rec.id} unknown`, { uuid: rec.id });
      }
      throw e;
    }
  }

  /** The digest of the first `length` bytes: from the live hasher if it is exact, else re-read from storage. */
  private async uploadDigest(rec: UploadRecord, length: number, algorithm: DigestAlgorithm): Promise<Digest> {
    const live = this.hashes.get(rec.id);
    if (live && live.offset === length && live.algorithm === algorithm) {
      this.hashes.delete(rec.id);
      return finishDigest(algorithm, live.hash);
    }
    const hash = newHasher(algorithm);
    if (length > 0) {
      let stream: Readable;
      try {
        stream = await this.blobs.readUpload(rec.id, length);
      } catch (e) {
        if (e instanceof StorageNotFoundError) {
          await this.meta.deleteUpload(rec.id);
          throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${rec.id} unknown`, { uuid: rec.id });
        }
        throw e;
      }
      for await (const chunk of stream) hash.update(chunk as Buffer);
    }
    return finishDigest(algorithm, hash);
  }

  // ---- manifests -----------------------------------------------------------------------------

  /**
   * A metadata read through the lookup cache (options.cacheLookups). Null results are not cached, and
   * a read that overlapped a change (the generation moved) is not either, so the cache is never stale.
   */
  private async cached<T extends object>(key: string, load: () => Promise<T | null>): Promise<T | null> {
    const hit = this.lookups.get(key);
    if (hit) return hit as T;
    const generation = this.lookupGeneration;
    const value = await load();
    if (value !== null && this.options.cacheLookups && generation === this.lookupGeneration) {
      if (this.lookups.size >= 10_000) this.lookups.clear();
      this.lookups.set(key, value);
    }
    return value;
  }

  private async resolve(repo: string, reference: string): Promise<ManifestRecord> {
    const rec = await this.cached(`m\0${repo}\0${reference}`, () =>
      isDigest(reference) ? this.meta.getManifest(repo, reference) : this.meta.resolveTag(repo, readReference(repo, reference).tag!),
    );
    if (!rec) {
      throw new OciError('MANIFEST_UNKNOWN', `manifest ${reference} unknown to repository ${repo}`, { reference });
    }
    return rec;
  }

  async statManifest(repo: string, reference: string): Promise<ManifestRecord> {
    return this.resolve(repo, reference);
  }

  /** A manifest GET: counts as a pull (a HEAD does not, as on Docker Hub). */
  async getManifest(repo: string, reference: string): Promise<ManifestRead> {
    const record = await this.resolve(repo, reference);
    const bytes = await this.manifestBytes(record.digest);
    this.pulls.set(`${repo}\0${record.digest}`, { repo, digest: record.digest, at: this.now() });
    return { record, bytes };
  }

  /** Records an audit event; written in the next batch (a request never waits for it). */
  audit(event: AuditEvent): void {
    this.auditBuffer.push(event);
    if (this.auditBuffer.length >= 10_000) void this.flushAudit();
  }

  async flushAudit(): Promise<void> {
    if (this.auditBuffer.length === 0) return;
    const batch = this.auditBuffer;
    this.auditBuffer = [];
    await this.meta.appendAudit(batch);
  }

  async listAudit(q: { since?: number; actor?: string; repository?: string; limit: number }): Promise<AuditEvent[]> {
    await this.flushAudit();
    return this.meta.listAudit(q);
  }

  /** Writes the pulls recorded in memory since the last flush (one transaction). */
  async flushPulls(): Promise<void> {
    if (this.pulls.size === 0) return;
    const batch = [...this.pulls.values()];
    this.pulls = new Map();
    await this.meta.recordPulls(batch);
  }

  isImmutable(repo: string, tag: string): boolean {
    return (this.options.immutability ?? []).some((r) => matchesAny(r.repositories, repo) && matchesAny(r.tags, tag));
  }

  private refuseImmutable(repo: string, tags: string[]): never {
    throw new OciError('DENIED', `tag ${tags.join(', ')} in ${repo} is immutable: push under a new tag instead`, { tags });
  }

  async manifestBytes(digest: Digest): Promise<Buffer> {
    const cached = this.manifestCache.get(digest);
    if (cached) return cached;
    let stream: Readable;
    try {
      stream = await this.blobs.read(digest);
    } catch (e) {
      if (e instanceof StorageNotFoundError) {
        throw new OciError('MANIFEST_UNKNOWN', `manifest ${digest} is recorded but its bytes are missing; run "kura fsck"`);
      }
      throw e;
    }
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    this.manifestCache.set(digest, bytes);
    return bytes;
  }

  /**
   * Stores a manifest byte-exact. `reference` is a tag or a digest (which must match the bytes);
   * `extraTags` are the `?tag=` parameters of a push by digest.
   */
  async putManifest(
    repo: string,
    reference: string,
    contentType: string | undefined,
    bytes: Buffer,
    extraTags: string[] = [],
  ): Promise<PutManifestResult> {
    if (bytes.length > this.options.manifestMaxBytes) {
      throw new OciError('SIZE_TOO_LARGE', `manifest is larger than ${this.options.manifestMaxBytes} bytes`);
    }
    const ref = parseReference(reference);
    const algorithm = ref.digest ? digestAlgorithm(ref.digest) : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (ref.digest && ref.digest !== digest) {
      throw new OciError('DIGEST_INVALID', `manifest bytes have digest ${digest}, not ${ref.digest}`, { digest: ref.digest });
    }
    const tags = [...new Set([...(ref.tag ? [ref.tag] : []), ...extraTags.map(parseTag)])];
    const info = parseManifestInfo(bytes, contentType);
    if (info.subject && info.annotations && Buffer.byteLength(JSON.stringify(info.annotations)) > REFERRER_ANNOTATIONS_MAX) {
      // Every referrers answer repeats these: keep them small (security audit M10).
      throw new OciError('MANIFEST_INVALID', `the annotations of a manifest with a subject may take at most ${REFERRER_ANNOTATIONS_MAX / 1024} KiB`);
    }
    await this.checkDeclaredSizes(repo, info);
    return this.withinQuota(repo, digest, bytes.length, () =>
      this.digestLock.run(digest, () => this.storeManifest(repo, digest, bytes, info, tags)),
    );
  }

  /**
   * Every descriptor's `size` must be the stored size of what it names (clients would fail on pull):
   * 400 MANIFEST_INVALID naming the first descriptor that differs. Unknown digests are left to the
   * store's transaction (MANIFEST_BLOB_UNKNOWN).
   */
  private async checkDeclaredSizes(repo: string, info: ManifestInfo): Promise<void> {
    for (const d of info.declared) {
      const stored = d.kind === 'blob' ? await this.meta.getBlob(repo, d.digest) : ((await this.meta.getManifest(repo, d.digest))?.size ?? null);
      if (stored !== null && stored !== d.size) {
        throw new OciError('MANIFEST_INVALID', `manifest invalid: ${d.where} declares size ${d.size} for ${d.digest}, which has ${stored} bytes`, {
          descriptor: d.where,
          digest: d.digest,
          size: d.size,
          stored,
        });
      }
    }
  }

  private async storeManifest(repo: string, digest: Digest, bytes: Buffer, info: ManifestInfo, tags: string[]): Promise<PutManifestResult> {
    // Bytes first (durable), metadata second: a crash in between leaves only unreferenced bytes.
    if ((await this.blobs.stat(digest)) === null) await this.blobs.put(digest, bytes);
    const record: ManifestRecord = {
      repo,
      digest,
      mediaType: info.mediaType,
      size: bytes.length,
      artifactType: info.artifactType,
      subject: info.subject,
      annotations: info.annotations,
      createdAt: this.now(),
    };
    this.invalidateLookups();
    const fixed = tags.filter((t) => this.isImmutable(repo, t));
    const { missing, refused } = await this.meta.putManifest(record, { blobs: info.blobs, manifests: info.manifests }, tags, fixed);
    this.invalidateLookups();
    if ((refused && refused.length > 0) || missing.length > 0) await this.dropUnrecorded(digest);
    if (refused && refused.length > 0) this.refuseImmutable(repo, refused);
    if (missing.length > 0) {
      // At most ten named: a manifest may list thousands of unknown digests (security audit I9).
      const errs = missing.slice(0, 10).map((d) => ({
        code: 'MANIFEST_BLOB_UNKNOWN' as const,
        message: `manifest references ${d}, which is unknown to repository ${repo}`,
        detail: { digest: d },
      }));
      if (missing.length > errs.length) {
        errs.push({ code: 'MANIFEST_BLOB_UNKNOWN', message: `and ${missing.length - errs.length} more unknown digests`, detail: { more: missing.length - errs.length } as never });
      }
      throw new OciError('MANIFEST_BLOB_UNKNOWN', errs[0]!.message, errs[0]!.detail, errs.slice(1));
    }
    this.manifestCache.set(digest, bytes);
    return { digest, subject: info.subject, tags };
  }

  /**
   * After a refused manifest PUT (under its digest's lock): its bytes go again unless a row records
   * them (the same manifest stored before, or a blob of that digest), so a refusal leaves nothing.
   */
  private async dropUnrecorded(digest: Digest): Promise<void> {
    if ((await this.meta.getGlobalBlob(digest)) === null) await this.blobs.delete(digest);
  }

  async deleteManifest(repo: string, reference: string): Promise<void> {
    this.requireDelete();
    const ref = readReference(repo, reference);
    if (this.options.immutability?.length) {
      const tags = ref.tag ? [ref.tag] : ((await this.meta.repositorySnapshot(repo))?.tags ?? []).filter((t) => t.digest === ref.digest).map((t) => t.name);
      const fixed = tags.filter((t) => this.isImmutable(repo, t));
      if (fixed.length > 0) this.refuseImmutable(repo, fixed);
    }
    this.invalidateLookups();
    const ok = ref.digest ? await this.meta.deleteManifest(repo, ref.digest) : await this.meta.deleteTag(repo, ref.tag!);
    this.invalidateLookups();
    if (!ok) throw new OciError('MANIFEST_UNKNOWN', `manifest ${reference} unknown to repository ${repo}`, { reference });
  }

  /** For clients that do not accept lists: the linux/amd64 child of a Docker manifest list, as Distribution does. */
  async defaultPlatformChild(repo: string, list: ManifestRead): Promise<ManifestRead | null> {
    if (list.record.mediaType !== MediaTypes.DockerManifestList) return null;
    const doc = JSON.parse(list.bytes.toString('utf8')) as {
      manifests?: { digest?: string; platform?: { os?: string; architecture?: string } }[];
    };
    const child = doc.manifests?.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
    if (!child?.digest || !isDigest(child.digest)) return null;
    const record = await this.meta.getManifest(repo, child.digest);
    return record ? { record, bytes: await this.manifestBytes(record.digest) } : null;
  }

  // ---- garbage collection (protocol: README.md in this folder) ----------------------------------

  /**
   * Deletes blobs that no manifest references, that were created and last touched more than the
   * grace period ago. Mark (one metadata transaction) before sweep (bytes, then the row), each sweep
   * under the digest's lock. Also finishes sweeps an interrupted GC left, and purges stale uploads.
   */
  async collectGarbage(opts: { dryRun?: boolean; graceMs?: number; leaseGraceMs?: number; uploadsOlderThanMs?: number } = {}): Promise<GcResult> {
    const graceMs = opts.graceMs ?? this.graceMs;
    const now = this.now();
    const cutoff = now - graceMs;
    // A lease is "touched at + the grace it was written with" (leaseGraceMs, by default this
    // registry's): a run with another grace judges the touch by its own grace, not by the lease's end.
    const leaseNow = now + (opts.leaseGraceMs ?? this.graceMs) - graceMs;
    for (const [d, t] of this.blobTouches) if (t < cutoff) this.blobTouches.delete(d);
    const listed = await this.meta.gcCandidates(leaseNow, cutoff);
    // No await between this filter and the mark's transaction: a HEAD cannot slip in between.
    const untouched = listed.filter((d) => (this.blobTouches.get(d) ?? 0) < cutoff);
    const marked = opts.dryRun ? untouched : await this.meta.gcMark(untouched, leaseNow, cutoff);
    const blobs: GcResult['blobs'] = [];
    for (const digest of marked) blobs.push({ digest, size: (await this.meta.getGlobalBlob(digest)) ?? 0 });
    // Unreferenced blobs left alone: within the grace (created, uploaded, mounted or read lately).
    const gone = new Set(marked);
    const kept: GcResult['kept'] = [];
    for (const digest of await this.meta.gcCandidates(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) {
      if (!gone.has(digest)) kept.push({ digest, size: (await this.meta.getGlobalBlob(digest)) ?? 0 });
    }
    const result: GcResult = { dryRun: opts.dryRun === true, graceMs, blobs, bytes: blobs.reduce((a, b) => a + b.size, 0), kept, swept: 0, unrecorded: [], uploadsPurged: 0 };
    if (opts.dryRun) {
      result.unrecorded = await collectUnrecorded(this.blobs, this.meta, this.digestLock, cutoff, true);
      return result;
    }
    for (const digest of new Set([...marked, ...(await this.meta.listDeleting())])) {
      await this.digestLock.run(digest, async () => {
        if ((await this.meta.blobState(digest)) !== 'deleting') return;
        await this.blobs.delete(digest);
        await this.meta.gcForget(digest);
        result.swept++;
      });
    }
    result.unrecorded = await collectUnrecorded(this.blobs, this.meta, this.digestLock, cutoff, false);
    result.uploadsPurged = await this.purgeUploads(opts.uploadsOlderThanMs ?? 7 * 24 * 3_600_000);
    return result;
  }


  /**
   * Compares metadata and stored bytes. Run it on a data directory no server is using (`kura fsck`):
   * an upload committing meanwhile would look like an orphan for a moment.
   */
  async fsck(opts: { repair?: boolean; verify?: boolean } = {}): Promise<FsckReport> {
    const report: FsckReport = { checked: 0, missing: [], corrupt: [], orphaned: [], pending: [], repaired: false };
    const rows = new Map<string, { size: number; state: string }>();
    for (const row of await this.meta.listBlobs()) {
      rows.set(row.digest, row);
      report.checked++;
      if (row.state === 'deleting') {
        report.pending.push(row.digest);
        continue;
      }
      const size = await this.blobs.stat(row.digest);
      if (size !== row.size) report.missing.push(row.digest);
      else if (opts.verify && (await this.hashStored(row.digest)) !== row.digest) report.corrupt.push(row.digest);
    }
    for await (const d of this.blobs.list()) if (!rows.has(d)) report.orphaned.push(d);
    if (!opts.repair) return report;
    for (const d of report.missing) await this.digestLock.run(d, async () => void (await this.meta.dropBlob(d)));
    for (const d of [...report.corrupt, ...report.orphaned]) {
      await this.digestLock.run(d, async () => {
        await this.blobs.delete(d);
        await this.meta.dropBlob(d);
      });
    }
    if (report.pending.length > 0) await this.collectGarbage({ graceMs: Number.MAX_SAFE_INTEGER / 2 });
    this.invalidateLookups();
    report.repaired = true;
    return report;
  }

  private async hashStored(digest: Digest): Promise<Digest> {
    const algorithm = digestAlgorithm(digest);
    const hash = newHasher(algorithm);
    for await (const chunk of await this.blobs.read(digest)) hash.update(chunk as Buffer);
    return finishDigest(algorithm, hash);
  }

  // ---- quotas --------------------------------------------------------------------------------

  /** The quota scopes a repository falls in, with their limits. */
  quotaScopes(repo: string): { key: string; scope: UsageScope; limitBytes: number }[] {
    const out: { key: string; scope: UsageScope; limitBytes: number }[] = [];
    const ns = repo.split('/')[0]!;
    for (const q of this.options.quotas ?? []) {
      if (q.repositories && matchesAny(q.repositories, repo)) out.push({ key: `repo:${repo}`, scope: { repo }, limitBytes: q.limitBytes });
      if (q.namespaces && matchesAny(q.namespaces, ns)) out.push({ key: `ns:${ns}`, scope: { namespace: ns }, limitBytes: q.limitBytes });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.limitBytes - b.limitBytes));
  }

  /**
   * Runs `link` (which links `digest` of `size` bytes to `repo`) only if no quota over `repo` would be
   * exceeded. A blob already in a scope costs that scope nothing: shared layers count once.
   */
  private async withinQuota<T>(repo: string, digest: Digest, size: number, link: () => Promise<T>): Promise<T> {
    const scopes = this.quotaScopes(repo);
    if (scopes.length === 0) return link();
    const releases: (() => void)[] = [];
    try {
      for (const key of [...new Set(scopes.map((s) => s.key))]) releases.push(await this.quotaLock.acquire(key));
      for (const { scope, limitBytes } of scopes) {
        if (await this.meta.linkedInScope(scope, digest)) continue;
        const used = (await this.meta.scopeUsage(scope)).bytes;
        if (used + size > limitBytes) {
          const what = 'repo' in scope ? `repository ${scope.repo}` : `namespace ${scope.namespace}`;
          throw new OciError(
            'DENIED',
            `storage quota of ${what} exceeded: ${used} of ${limitBytes} bytes used, ${digest} needs ${size} more; delete images (then wait for garbage collection) or raise the quota`,
            { scope, used, limit: limitBytes, needed: size },
          );
        }
      }
      return await link();
    } finally {
      for (const r of releases.reverse()) r();
    }
  }

  async usageReport(): Promise<UsageReport> {
    return this.meta.usageReport();
  }

  // ---- retention -----------------------------------------------------------------------------

  /** What the configured policies would remove now, and why. Changes nothing. */
  async planRetention(now = this.now()): Promise<RetentionPlan> {
    await this.flushPulls();
    const cfg = this.options.retention ?? { rules: [], ecr: [] };
    const plan: RetentionPlan = { at: now, repositories: 0, actions: [] };
    let last: string | undefined;
    for (;;) {
      const page = await this.meta.listRepositories({ last, n: 500 });
      for (const repo of page) {
        const rule = cfg.rules.find((r) => matchesAny(r.repositories, repo));
        const ecr = rule ? undefined : cfg.ecr.find((e) => matchesAny(e.repositories, repo));
        if (!rule && !ecr) continue;
        const snap = await this.meta.repositorySnapshot(repo);
        if (!snap) continue;
        plan.repositories++;
        const immutable = (tag: string) => this.isImmutable(repo, tag);
        plan.actions.push(...(rule ? planRule(snap, rule, now, immutable) : planEcr(snap, ecr!.policy, now, immutable)));
      }
      if (page.length < 500) break;
      last = page[page.length - 1];
    }
    return plan;
  }

  /** Carries out exactly the given plan (deletion switch or not: policies are the operator's own). */
  async applyRetention(plan: RetentionPlan): Promise<{ applied: number; skipped: number }> {
    let applied = 0;
    let skipped = 0;
    // One snapshot per repository, taken before its first action: our own deletions remove only what
    // the plan names, so comparing against it still shows what changed since the plan.
    const snaps = new Map<string, Map<Digest, string[]>>();
    for (const a of plan.actions) {
      let tagsByDigest = snaps.get(a.repo);
      if (!tagsByDigest) {
        tagsByDigest = new Map();
        for (const t of (await this.meta.repositorySnapshot(a.repo))?.tags ?? []) {
          tagsByDigest.set(t.digest, [...(tagsByDigest.get(t.digest) ?? []), t.name]);
        }
        snaps.set(a.repo, tagsByDigest);
      }
      // Skip what changed since the plan: a tag moved elsewhere, or a manifest that gained a tag.
      const tagsNow = tagsByDigest.get(a.digest) ?? [];
      const unchanged = a.kind === 'tag' ? tagsNow.includes(a.tag) : tagsNow.every((t) => a.tags.includes(t));
      this.invalidateLookups();
      const ok = unchanged && (a.kind === 'tag' ? await this.meta.deleteTag(a.repo, a.tag) : await this.meta.deleteManifest(a.repo, a.digest));
      if (ok) applied++;
      else skipped++;
    }
    this.invalidateLookups();
    return { applied, skipped };
  }

  // ---- discovery -----------------------------------------------------------------------------

  async listTags(repo: string, page: Page): Promise<PageResult<string>> {
    const n = this.pageSize(page.n);
    const limit = n === undefined ? undefined : n + 1;
    const tags = await this.cached(`t\0${repo}\0${page.last ?? ''}\0${limit ?? ''}`, () =>
      this.meta.listTags(repo, { last: page.last, n: limit }),
    );
    if (tags === null) throw new OciError('NAME_UNKNOWN', `repository ${repo} not known to registry`, { name: repo });
    return paginate(tags, n);
  }

  async listRepositories(page: Page): Promise<PageResult<string>> {
    const n = this.pageSize(page.n);
    const repos = await this.meta.listRepositories({ last: page.last, n: n === undefined ? undefined : n + 1 });
    return paginate(repos, n);
  }

  /**
   * Referrers of `subject` in `repo`, ordered by digest, a page at a time: at most `n` (default and
   * cap: REFERRERS_PAGE) after the digest `last`; `next` is set when there are more.
   */
  async referrers(repo: string, subject: Digest, artifactType?: string, page: Page = {}): Promise<PageResult<ManifestRecord>> {
    const n = Math.min(page.n ?? REFERRERS_PAGE, REFERRERS_PAGE);
    const recs = await this.meta.listReferrers(repo, subject, artifactType, { last: page.last, n: n + 1 });
    const items = recs.slice(0, n);
    return { items, next: recs.length > n && items.length > 0 ? items[items.length - 1]!.digest : null };
  }

  private pageSize(n: number | undefined): number | undefined {
    if (n === undefined) return undefined;
    if (!Number.isSafeInteger(n) || n < 0 || n > this.options.pageMax) {
      throw new OciError('PAGINATION_NUMBER_INVALID', `n must be an integer from 0 to ${this.options.pageMax}`, { n });
    }
    return n;
  }

  private invalidateLookups(): void {
    this.lookupGeneration++;
    this.lookups.clear();
  }

  private requireDelete(): void {
    if (!this.options.deleteEnabled) {
      throw new OciError('UNSUPPORTED', 'deletion is disabled on this registry (set delete.enabled: true)');
    }
  }

  async close(): Promise<void> {
    await this.flushPulls();
    await this.flushAudit();
    await this.meta.close();
  }
}

function paginate(items: string[], n: number | undefined): PageResult<string> {
  if (n === undefined || items.length <= n) return { items, next: null };
  const page = items.slice(0, n);
  return { items: page, next: page.length > 0 ? page[page.length - 1]! : null };
}

/** A manifest reference in a URL: a digest or a tag. */
export function parseReference(reference: string): { tag?: string; digest?: Digest } {
  if (reference.includes(':')) return { digest: parseDigest(reference) };
  if (!isTag(reference)) throw new OciError('MANIFEST_INVALID', `invalid tag or digest "${reference.slice(0, 200)}"`);
  return { tag: reference };
}

/**
 * A manifest reference to read or delete: a name that can never be a tag (such as the conformance
 * suite's `.INVALID_MANIFEST_NAME`) names nothing, so it is 404 MANIFEST_UNKNOWN, not a 400; only a
 * PUT refuses it as invalid. A malformed digest stays 400 DIGEST_INVALID.
 */
function readReference(repo: string, reference: string): { tag?: string; digest?: Digest } {
  if (!reference.includes(':') && !isTag(reference)) {
    throw new OciError('MANIFEST_UNKNOWN', `manifest ${reference.slice(0, 200)} unknown to repository ${repo}`, { reference: reference.slice(0, 200) });
  }
  return parseReference(reference);
}

/** Types the HTTP layer needs, re-exported so it depends on registry/ alone. */
export type { ByteRange, FileRegion } from '../storage/types.js';
export type { AuditEvent, ManifestRecord, UploadRecord, UsageReport } from '../metadata/types.js';
