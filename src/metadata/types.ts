import type { Digest } from '../oci/digest.js';

/** One stored manifest as the registry sees it (bytes live in the BlobStore under `digest`). */
export interface ManifestRecord {
  repo: string;
  digest: Digest;
  mediaType: string;
  size: number;
  /** The referrers-API artifact type: manifest `artifactType`, else the config media type (images), else null. */
  artifactType: string | null;
  /** Digest of the manifest's `subject`, if any. */
  subject: Digest | null;
  /** Top-level manifest annotations (served in referrers responses), or null. */
  annotations: Record<string, string> | null;
  /** Milliseconds since the epoch when first pushed to this repository. */
  createdAt: number;
}

/** What a manifest points at: blobs (config, layers) and child manifests (index entries). */
export interface ManifestRefs {
  blobs: Digest[];
  manifests: Digest[];
}

export type BlobState = 'live' | 'deleting';

/** A user or robot account. Robots carry their own grants and an expiry (CI tokens). */
export interface Account {
  name: string;
  kind: 'user' | 'robot';
  /** bcrypt hash of the password or robot secret. */
  passwordHash: string;
  /** Robots only: what they may do, by repository glob; null for users (the access rules decide). */
  grants: { repositories: string[]; actions: string[] } | null;
  createdAt: number;
  /** ms since the epoch; null = never. */
  expiresAt: number | null;
}

/** Who did what to which repository, from where, when, and how it ended. */
export interface AuditEvent {
  at: number;
  /** User name, or null for anonymous. */
  actor: string | null;
  address: string;
  /** push, pull, delete, mount, login, denied… */
  action: string;
  repository: string | null;
  reference: string | null;
  status: number;
}

/** A repository, or a namespace: every repository whose name is it or starts with it plus "/". */
export type UsageScope = { repo: string } | { namespace: string };

export interface UsageRow {
  name: string;
  blobs: number;
  bytes: number;
}

export interface UsageReport {
  repositories: UsageRow[];
  /** Deduplicated within each namespace; `sumOfRepositories` is what a per-repository count would say. */
  namespaces: (UsageRow & { sumOfRepositories: number })[];
  /** Every live blob once: what the store holds. */
  total: { blobs: number; bytes: number };
}

export interface RepositorySnapshot {
  repo: string;
  tags: { name: string; digest: Digest; pushedAt: number }[];
  manifests: {
    digest: Digest;
    pushedAt: number;
    pulledAt: number | null;
    subject: Digest | null;
    artifactType: string | null;
    /** Child manifests (index entries). */
    children: Digest[];
  }[];
}

export interface UploadRecord {
  id: string;
  repo: string;
  /** Who started it (user name, or "addr:<ip>" when anonymous); for the per-caller session limit. */
  owner?: string | null;
  /** Bytes durably received so far. */
  offset: number;
  createdAt: number;
  updatedAt: number;
}

export interface Page {
  /** Exclusive lower bound (distribution-spec `last`). */
  last?: string;
  /** Maximum number of results; undefined means all. */
  n?: number;
}

/**
 * The server's SQL metadata: authoritative for what exists. Every method is atomic.
 * Repositories come into being on their first blob link or manifest.
 */
export interface MetadataStore {
  readonly name: string;
  /**
   * Records a committed blob (global) and links it to `repo` so it is readable there. Idempotent.
   * Revives a blob that GC marked 'deleting' (the caller holds the digest's lock, so its bytes are
   * still there) and extends its lease to `leaseUntil` (ms since the epoch) if that is later.
   */
  addBlob(repo: string, digest: Digest, size: number, leaseUntil?: number): Promise<void>;
  /** Size of a blob linked to `repo` (uploaded or mounted there), else null. */
  getBlob(repo: string, digest: Digest): Promise<number | null>;
  /** Size of a blob known anywhere in the registry, else null. */
  getGlobalBlob(digest: Digest): Promise<number | null>;
  /** Which of `digests` have a blob row (any state): the GC compares a storage listing with this, page by page. */
  recordedBlobs(digests: Digest[]): Promise<Set<Digest>>;
  /** Up to `limit` repositories (by name) through which a live blob may be read. */
  blobRepositories(digest: Digest, limit: number): Promise<string[]>;
  /** Unlinks a blob from a repository; false when it was not linked. */
  unlinkBlob(repo: string, digest: Digest): Promise<boolean>;
  /**
   * Stores a manifest, its references and tags in one transaction. Blob refs must be readable in
   * the repo and manifest refs must exist in the repo; otherwise nothing is written and the missing
   * digests are returned. Re-putting an existing digest is allowed (tags are added/moved).
   * Tags in `fixedTags` may be created but not moved to another digest: if one would move, nothing
   * is written and `refused` lists them (tag immutability, checked in the same transaction).
   */
  putManifest(
    rec: ManifestRecord,
    refs: ManifestRefs,
    tags: string[],
    fixedTags?: string[],
  ): Promise<{ missing: Digest[]; refused?: string[] }>;
  /** A manifest of `repo` by digest, or null. */
  getManifest(repo: string, digest: Digest): Promise<ManifestRecord | null>;
  /** The manifest a tag points at, or null. */
  resolveTag(repo: string, tag: string): Promise<ManifestRecord | null>;
  /** Deletes a manifest and every tag pointing at it; false when absent. */
  deleteManifest(repo: string, digest: Digest): Promise<boolean>;
  /** Deletes one tag; false when absent. */
  deleteTag(repo: string, tag: string): Promise<boolean>;
  /** Tags of a repository sorted bytewise, paginated; null when the repository is unknown. */
  listTags(repo: string, page: Page): Promise<string[] | null>;
  /** Repository names sorted bytewise, paginated. */
  listRepositories(page: Page): Promise<string[]>;
  /** Manifests of `repo` whose subject is `subject`, optionally filtered by artifact type, ordered by digest, paginated by digest. */
  listReferrers(repo: string, subject: Digest, artifactType?: string, page?: Page): Promise<ManifestRecord[]>;
  /** Upload sessions. */
  createUpload(rec: UploadRecord): Promise<void>;
  getUpload(id: string): Promise<UploadRecord | null>;
  /** Sets the durable offset of an upload; false when the session is gone. */
  updateUpload(id: string, offset: number, updatedAt: number): Promise<boolean>;
  deleteUpload(id: string): Promise<boolean>;
  /** Open upload sessions started by `owner`. */
  countUploads(owner: string): Promise<number>;
  /** Upload sessions not updated since `before` (ms since the epoch). */
  listStaleUploads(before: number): Promise<UploadRecord[]>;
  // ---- garbage collection (the protocol is in src/registry/README.md) ----
  /** Live blobs no manifest references (nor are manifests), created before `cutoff`, with no lease at `now`. */
  gcCandidates(now: number, cutoff: number): Promise<Digest[]>;
  /** One transaction: each digest that is still a candidate becomes 'deleting' and loses every repository link. Returns those. */
  gcMark(digests: Digest[], now: number, cutoff: number): Promise<Digest[]>;
  /** Blobs left 'deleting' by a GC that has not swept them yet (or was killed while sweeping). */
  listDeleting(): Promise<Digest[]>;
  /** State of a blob row, or null when there is none. */
  blobState(digest: Digest): Promise<BlobState | null>;
  /** Removes a blob row that is still 'deleting'; false when it was revived or is gone. */
  gcForget(digest: Digest): Promise<boolean>;
  /** Every blob row (fsck). */
  listBlobs(): Promise<{ digest: Digest; size: number; state: BlobState }[]>;
  /** Removes a blob row and all its repository links whatever its state (fsck repair of lost bytes). */
  dropBlob(digest: Digest): Promise<boolean>;
  // ---- retention ----
  /** Records manifest pulls (GETs, not HEADs): keeps the latest time per manifest. */
  recordPulls(pulls: { repo: string; digest: Digest; at: number }[]): Promise<void>;
  /** Tags and manifests of one repository, for retention planning; null when the repository is unknown. */
  repositorySnapshot(repo: string): Promise<RepositorySnapshot | null>;
  // ---- quotas and usage ----
  /** Distinct blobs (layers, configs, manifests) linked to repositories in a scope, each counted once. */
  scopeUsage(scope: UsageScope): Promise<{ blobs: number; bytes: number }>;
  /** Whether a blob is already linked to some repository in the scope (so adding it costs nothing). */
  linkedInScope(scope: UsageScope, digest: Digest): Promise<boolean>;
  /** Usage per repository and per namespace (first path segment), deduplicated within each. */
  usageReport(): Promise<UsageReport>;
  // ---- accounts (users and robots kept in the store, beside any htpasswd file) ----
  putAccount(a: Account): Promise<void>;
  getAccount(name: string): Promise<Account | null>;
  deleteAccount(name: string): Promise<boolean>;
  listAccounts(): Promise<Account[]>;
  // ---- audit ----
  /** Appends audit events (one transaction). */
  appendAudit(events: AuditEvent[]): Promise<void>;
  /** Deletes audit events older than `before`; resolves to how many. */
  purgeAudit(before: number): Promise<number>;
  /** Audit events, newest first, filtered. */
  listAudit(q: { since?: number; actor?: string; repository?: string; limit: number }): Promise<AuditEvent[]>;
  /** Releases connections/handles. */
  close(): Promise<void>;
}
