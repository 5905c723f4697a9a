/**
 * The registry's domain over a BlobStore and a MetadataStore: a thin facade over services that share
 * one core (core.ts). No HTTP here: methods take parsed inputs, return data and throw OciError.
 *
 * Order of writes is the crash-safety argument: bytes become durable under their digest first,
 * metadata rows second. So a crash can leave unreferenced bytes (harmless, collectable) but never
 * a row pointing at bytes that are not there. Nothing outside registry/ reaches the stores through it.
 */
import type { Readable } from 'node:stream';
import type { AuditEvent, ManifestRecord, MetadataStore, Page, UploadRecord, UsageReport } from '../metadata/types.js';
import type { Digest, DigestAlgorithm } from '../oci/digest.js';
import type { BlobStore, ByteRange } from '../storage/types.js';
import { Accounts } from './accounts.js';
import { Activity } from './activity.js';
import { BlobService, type BlobRead } from './blobs.js';
import { RegistryCore } from './core.js';
import { DiscoveryService, type PageResult } from './discovery.js';
import { GcService, type FsckReport, type GcOptions, type GcResult } from './gc.js';
import { ManifestService, type ManifestRead, type PutManifestResult } from './manifests.js';
import type { RegistryLimits, RegistryOptions } from './options.js';
import { QuotaService } from './quota.js';
import { RetentionService, type RetentionPlan } from './retention-run.js';
import { UploadService } from './uploads.js';

export class Registry {
  readonly blobService: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly discovery: DiscoveryService;
  readonly gc: GcService;
  readonly quota: QuotaService;
  readonly retention: RetentionService;
  readonly activity: Activity;
  /** Request-size limits, for the HTTP layer to enforce before reading a body. */
  readonly limits: RegistryLimits;
  private readonly core: RegistryCore;

  constructor(blobs: BlobStore, meta: MetadataStore, options: RegistryOptions) {
    const core = (this.core = new RegistryCore(blobs, meta, options));
    this.limits = {
      manifestMaxBytes: options.manifestMaxBytes,
      blobMaxBytes: options.blobMaxBytes,
      tagsPerPush: options.tagsPerPush,
      pageMax: options.pageMax,
    };
    this.activity = new Activity(meta);
    this.quota = new QuotaService(core);
    this.blobService = new BlobService(core, this.quota);
    this.uploads = new UploadService(core, this.quota);
    this.manifests = new ManifestService(core, this.quota, this.activity);
    this.discovery = new DiscoveryService(core);
    this.gc = new GcService(core, this.uploads);
    this.retention = new RetentionService(core, this.manifests, this.activity);
  }

  /**
   * A counter that moves on every change of a manifest or tag (push, delete, GC, retention): caches of what
   * was derived from them (the pull policy's verdicts) are valid while it stands still.
   */
  changes = (): number => this.core.lookups.changes;

  /** User accounts kept in the metadata store (`kura user`, the admin API). */
  accounts(reserved?: (name: string) => boolean): Accounts {
    return new Accounts(this.core.meta, reserved);
  }

  // ---- blobs
  statBlob = (repo: string, digest: Digest): Promise<number> => this.blobService.stat(repo, digest);
  readBlob = (repo: string, digest: Digest, range?: ByteRange): Promise<BlobRead> =>
    this.blobService.read(repo, digest, range);
  blobRedirect = (repo: string, digest: Digest): Promise<string | null> => this.blobService.redirect(repo, digest);
  deleteBlob = (repo: string, digest: Digest): Promise<void> => this.blobService.delete(repo, digest);
  mountBlob = (repo: string, from: string, digest: Digest): Promise<boolean> =>
    this.blobService.mount(repo, from, digest);
  mountDiscovered = (repo: string, digest: Digest, mayPull: (from: string) => boolean): Promise<boolean> =>
    this.blobService.mountDiscovered(repo, digest, mayPull);

  // ---- uploads
  startUpload = (repo: string, algorithm?: DigestAlgorithm, owner?: string): Promise<UploadRecord> =>
    this.uploads.start(repo, algorithm, owner);
  getUpload = (repo: string, id: string): Promise<UploadRecord> => this.uploads.get(repo, id);
  patchUpload = (repo: string, id: string, body: Readable, range?: ByteRange, length?: number): Promise<number> =>
    this.uploads.patch(repo, id, body, range, length);
  completeUpload = (
    repo: string,
    id: string,
    digest: Digest,
    body?: Readable,
    range?: ByteRange,
    length?: number,
  ): Promise<number> => this.uploads.complete(repo, id, digest, body, range, length);
  monolithicUpload = (
    repo: string,
    digest: Digest,
    body: Readable,
    length?: number,
    hashed?: Promise<Digest>,
  ): Promise<number> => this.uploads.monolithic(repo, digest, body, length, hashed);
  cancelUpload = (repo: string, id: string): Promise<void> => this.uploads.cancel(repo, id);
  purgeUploads = (olderThanMs: number): Promise<number> => this.uploads.purge(olderThanMs);

  // ---- manifests
  statManifest = (repo: string, reference: string): Promise<ManifestRecord> => this.manifests.stat(repo, reference);
  getManifest = (repo: string, reference: string): Promise<ManifestRead> => this.manifests.get(repo, reference);
  manifestBytes = (digest: Digest): Promise<Buffer> => this.manifests.bytes(digest);
  putManifest = (
    repo: string,
    reference: string,
    contentType: string | undefined,
    bytes: Buffer,
    extraTags?: string[],
  ): Promise<PutManifestResult> => this.manifests.put(repo, reference, contentType, bytes, extraTags);
  /** A pull-through cache's copy of an upstream manifest, stored before the blobs it names (they come when pulled). */
  cacheManifest = (repo: string, reference: string, contentType: string, bytes: Buffer): Promise<PutManifestResult> =>
    this.manifests.put(repo, reference, contentType, bytes, [], true);
  deleteManifest = (repo: string, reference: string): Promise<void> => this.manifests.delete(repo, reference);
  defaultPlatformChild = (repo: string, list: ManifestRead): Promise<ManifestRead | null> =>
    this.manifests.defaultPlatformChild(repo, list);
  isImmutable = (repo: string, tag: string): boolean => this.manifests.isImmutable(repo, tag);

  // ---- discovery
  listTags = (repo: string, page: Page): Promise<PageResult<string>> => this.discovery.listTags(repo, page);
  listRepositories = (page: Page): Promise<PageResult<string>> => this.discovery.listRepositories(page);
  referrers = (
    repo: string,
    subject: Digest,
    artifactType?: string,
    page?: Page,
  ): Promise<PageResult<ManifestRecord>> => this.discovery.referrers(repo, subject, artifactType, page);

  // ---- activity
  audit = (event: AuditEvent): void => this.activity.audit(event);
  flushAudit = (): Promise<void> => this.activity.flushAudit();
  listAudit = (q: { since?: number; actor?: string; repository?: string; limit: number }): Promise<AuditEvent[]> =>
    this.activity.listAudit(q);
  purgeAudit = (before: number): Promise<void> => this.activity.purgeAudit(before);
  flushPulls = (): Promise<void> => this.activity.flushPulls();

  // ---- maintenance
  collectGarbage = (opts?: GcOptions): Promise<GcResult> => this.gc.collect(opts);
  /** Writes pending blob touches to a shared store now (they also go every second by themselves). */
  flushTouches = (): Promise<void> => this.core.sharedTouches?.flush() ?? Promise.resolve();
  fsck = (opts?: { repair?: boolean; verify?: boolean }): Promise<FsckReport> => this.gc.fsck(opts);
  quotaScopes = (repo: string) => this.quota.scopes(repo);
  usageReport = (): Promise<UsageReport> => this.quota.usageReport();
  planRetention = (now?: number): Promise<RetentionPlan> => this.retention.plan(now);
  applyRetention = (plan: RetentionPlan) => this.retention.apply(plan);

  async close(): Promise<void> {
    await this.activity.flushPulls();
    await this.activity.flushAudit();
    await this.core.sharedTouches?.close();
    this.core.blobLinks.close();
    await this.core.meta.close();
  }
}

/** Types the HTTP layer and the CLI need, re-exported so they depend on this file alone. */
export type { ByteRange, FileRegion } from '../storage/types.js';
export type { AuditEvent, ManifestRecord, UploadRecord, UsageReport } from '../metadata/types.js';
export type { BlobRead } from './blobs.js';
export type { PageResult } from './discovery.js';
export { REFERRERS_PAGE } from './discovery.js';
export type { FsckReport, GcResult } from './gc.js';
export { REFERRER_ANNOTATIONS_MAX, type ManifestRead, type PutManifestResult } from './manifests.js';
export type { ImmutabilityRule, QuotaRule, RegistryLimits, RegistryOptions, RetentionConfig } from './options.js';
export type { RetentionPlan } from './retention-run.js';
