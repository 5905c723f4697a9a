// The metadata model: stored records and the role interfaces that compose MetadataStore.
import type { BlobGoneFeed, SharedCounters, SharedLocks } from './shared.js';
import type { Digest } from '../oci/digest.js';
import type { ScanTable } from './scan-types.js';
import type { TagPage, TagPageQuery } from './tag-keys.js';

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
  /**
   * Recorded without the presence check (a pull-through cache stores a manifest before the blobs and child
   * manifests it names, which arrive when pulled): the references still protect them from GC once they exist.
   */
  partial?: boolean;
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

/** One tag with what a listing shows of its manifest (the web UI's tags page). */
export interface TagDetail {
  name: string;
  digest: Digest;
  /** When the tag was last set. */
  pushedAt: number;
  mediaType: string;
  artifactType: string | null;
  /** The manifest's latest recorded pull, or null. */
  pulledAt: number | null;
}

/** A manifest's own size and the summed size of the blobs it references (config and layers). */
export interface ManifestSize {
  digest: Digest;
  /** For an index child: the index asked about; null for a manifest asked about itself. */
  parent: Digest | null;
  mediaType: string;
  artifactType: string | null;
  size: number;
  blobBytes: number;
  /** The manifest's latest recorded pull, or null. */
  pulledAt: number | null;
}

/** A tag, its manifest and when it was set: what ordering and grouping a repository's tags need. */
export type TagEntry = Pick<TagDetail, 'name' | 'digest' | 'pushedAt'>;

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

/** Pulls to record: the latest time per manifest is kept. */
export interface Pull {
  repo: string;
  digest: Digest;
  at: number;
}

/** Filter of an audit listing. */
export interface AuditQuery {
  since?: number;
  actor?: string;
  repository?: string;
  limit: number;
}

/**
 * Blobs and their repository links (tables `blobs`, `repository_blobs`). A link makes a blob
 * readable through a repository; repositories come into being on their first link or manifest.
 */
export interface BlobTable {
  /**
   * Records a committed blob (global) and links it to `repo` so it is readable there. Idempotent.
   * Revives a blob that GC marked 'deleting' (the caller holds the digest's lock, so its bytes are
   * still there) and extends its lease to `leaseUntil` (ms since the epoch) if that is later.
   * `events` go into the outbox in the same transaction.
   */
  add(repo: string, digest: Digest, size: number, leaseUntil?: number, events?: OutboxEntry[]): Promise<void>;
  /** Size of a blob linked to `repo` (uploaded or mounted there), else null. */
  get(repo: string, digest: Digest): Promise<number | null>;
  /** Size of a blob known anywhere in the registry (any state), else null. */
  getGlobal(digest: Digest): Promise<number | null>;
  /** Up to `limit` repositories (by name) through which a live blob may be read. */
  repositories(digest: Digest, limit: number): Promise<string[]>;
  /** Unlinks a blob from a repository; false when it was not linked. `events` are written only when true. */
  unlink(repo: string, digest: Digest, events?: OutboxEntry[]): Promise<boolean>;
}

/**
 * Manifests with their references, tags and referrers (tables `manifests`, `manifest_refs`,
 * `tags`; `repositories` for the catalog). `put` also records the manifest's own bytes as a blob
 * linked to its repository, in the same transaction: this role owns that cross-table write.
 */
export interface ManifestTable {
  /**
   * Stores a manifest, its references and tags in one transaction. Blob refs must be readable in
   * the repo and manifest refs must exist in the repo; otherwise nothing is written and the missing
   * digests are returned. Re-putting an existing digest is allowed (tags are added/moved).
   * Tags in `fixedTags` may be created but not moved to another digest: if one would move, nothing
   * is written and `refused` lists them (tag immutability, checked in the same transaction).
   * `events` go into the outbox in the same transaction, only when the manifest is stored.
   */
  put(
    rec: ManifestRecord,
    refs: ManifestRefs,
    tags: string[],
    fixedTags?: string[],
    events?: OutboxEntry[],
  ): Promise<{ missing: Digest[]; refused?: string[] }>;
  /** A manifest of `repo` by digest, or null. */
  get(repo: string, digest: Digest): Promise<ManifestRecord | null>;
  /** The manifest a tag points at, or null. */
  resolveTag(repo: string, tag: string): Promise<ManifestRecord | null>;
  /** Deletes a manifest and every tag pointing at it; false when absent. `events` are written only when true. */
  delete(repo: string, digest: Digest, events?: OutboxEntry[]): Promise<boolean>;
  /** Deletes one tag; false when absent. `events` are written only when true. */
  deleteTag(repo: string, tag: string, events?: OutboxEntry[]): Promise<boolean>;
  /** Tags of a repository sorted bytewise, paginated; null when the repository is unknown. */
  listTags(repo: string, page: Page): Promise<string[] | null>;
  /** Repository names sorted bytewise, paginated. */
  listRepositories(page: Page): Promise<string[]>;
  /**
   * Manifests of `repo` whose subject is `subject`, optionally filtered by artifact type, ordered by
   * digest, paginated by digest.
   */
  listReferrers(repo: string, subject: Digest, artifactType?: string, page?: Page): Promise<ManifestRecord[]>;
  /** Records manifest pulls (GETs, not HEADs): keeps the latest time per manifest (retention). */
  recordPulls(pulls: Pull[]): Promise<void>;
  /** Tags and manifests of one repository, for retention planning; null when the repository is unknown. */
  snapshot(repo: string): Promise<RepositorySnapshot | null>;
  /** Every tag of `repo` with its manifest's type and times, in no set order; null when the repository is unknown. */
  tagDetails(repo: string): Promise<TagDetail[] | null>;
  /** Every tag of `repo` with its digest and push time (no manifest columns), in no set order; null: no repository. */
  tagList(repo: string): Promise<TagEntry[] | null>;
  /**
   * One page of `repo`'s tags in the query's order after its cursor, with the tags sharing each one's digest and
   * the counts (one statement in SQL, read through stored sort keys); null when the repository is unknown.
   */
  tagPage(repo: string, query: TagPageQuery): Promise<TagPage | null>;
  /**
   * Sizes of the manifests of `repo` among `digests` (one row each, `parent` null) and of their child
   * manifests (one row per parent and child, `parent` set); unknown digests are left out. Order is not set.
   */
  sizes(repo: string, digests: Digest[]): Promise<ManifestSize[]>;
}

/** Upload sessions (table `uploads`). Sessions do not create their repository. */
export interface UploadTable {
  /** Starts a session; fails when the id exists. */
  create(rec: UploadRecord): Promise<void>;
  get(id: string): Promise<UploadRecord | null>;
  /** Sets the durable offset of an upload; false when the session is gone. */
  update(id: string, offset: number, updatedAt: number): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /** Open upload sessions started by `owner`. */
  countByOwner(owner: string): Promise<number>;
  /** Upload sessions not updated since `before` (ms since the epoch). */
  listStale(before: number): Promise<UploadRecord[]>;
}

/**
 * Garbage collection and fsck over blob rows and their states (the protocol is in
 * src/registry/README.md). `mark` and `drop` write `blobs` and `repository_blobs` in one transaction.
 */
export interface GcStore {
  /** Live blobs no manifest references (nor are manifests), created before `cutoff`, with no lease at `now`. */
  candidates(now: number, cutoff: number): Promise<Digest[]>;
  /**
   * One transaction: each digest that is still a candidate becomes 'deleting' and loses every
   * repository link. Returns those.
   */
  mark(digests: Digest[], now: number, cutoff: number): Promise<Digest[]>;
  /** Blobs left 'deleting' by a GC that has not swept them yet (or was killed while sweeping). */
  listDeleting(): Promise<Digest[]>;
  /** State of a blob row, or null when there is none. */
  state(digest: Digest): Promise<BlobState | null>;
  /** Removes a blob row that is still 'deleting'; false when it was revived or is gone. */
  forget(digest: Digest): Promise<boolean>;
  /** Which of `digests` have a blob row (any state): the GC compares a storage listing with this, page by page. */
  recorded(digests: Digest[]): Promise<Set<Digest>>;
  /** Every blob row (fsck). */
  listBlobs(): Promise<{ digest: Digest; size: number; state: BlobState }[]>;
  /** Removes a blob row and all its repository links whatever its state (fsck repair of lost bytes). */
  drop(digest: Digest): Promise<boolean>;
  /**
   * Stores several processes share (PostgreSQL) elect one collector: runs `fn` while this process
   * holds the store-wide collector lock and resolves to its result, or to null at once when another
   * process holds it. The lock dies with its holder, so another replica takes over on its next run.
   * Absent on single-process stores (SQLite opened exclusively, memory): there is nobody to elect.
   */
  exclusive?<T>(fn: () => Promise<T>): Promise<T | null>;
  /** Shared stores: extends live blobs' leases to `leaseUntil` (HEAD touches a collector elsewhere must see). */
  touch?(digests: Digest[], leaseUntil: number): Promise<void>;
}

/** Read-only quota and usage questions over blob links. */
export interface UsageQueries {
  /** Distinct blobs (layers, configs, manifests) linked to repositories in a scope, each counted once. */
  ofScope(scope: UsageScope): Promise<{ blobs: number; bytes: number }>;
  /** Whether a blob is already linked to some repository in the scope (so adding it costs nothing). */
  linkedInScope(scope: UsageScope, digest: Digest): Promise<boolean>;
  /** Usage per repository and per namespace (first path segment), deduplicated within each. */
  report(): Promise<UsageReport>;
}

/** Users and robots kept in the store, beside any htpasswd file (table `accounts`). */
export interface AccountTable {
  /** Creates or updates an account; an update keeps the creation time. */
  put(a: Account): Promise<void>;
  get(name: string): Promise<Account | null>;
  delete(name: string): Promise<boolean>;
  /** Every account, by name. */
  list(): Promise<Account[]>;
}

/** The audit trail (table `audit_log`). */
export interface AuditLog {
  /** Appends audit events (one transaction). */
  append(events: AuditEvent[]): Promise<void>;
  /** Deletes audit events older than `before`; resolves to how many. */
  purge(before: number): Promise<number>;
  /** Audit events, newest first, filtered. */
  list(q: AuditQuery): Promise<AuditEvent[]>;
}

export type { RepositoryScan, ScanCounts, ScanRecord, ScanState, ScanTable } from './scan-types.js';

/** One event for one webhook endpoint, as it waits in the outbox (table `event_outbox`). */
export interface OutboxEntry {
  endpoint: string;
  /** The repository: events of one endpoint and repository are delivered in the order they were written. */
  repo: string;
  /** The event as the receiver gets it (JSON text). */
  payload: string;
}

/** An outbox event leased to a deliverer. */
export interface OutboxEvent extends OutboxEntry {
  id: number;
  /** Failed deliveries so far. */
  attempts: number;
  createdAt: number;
}

/**
 * The events outbox (table `event_outbox`): written by the role methods that make a change, in their own
 * transaction (their `events` argument), or alone by `append`; drained by deliverers through leases, so
 * each event goes to one deliverer at a time, even with several processes on one database.
 */
export interface EventOutbox {
  /** Writes events (one transaction), in order. */
  append(entries: OutboxEntry[]): Promise<void>;
  /**
   * Leases to `owner` until `leaseUntil` at most `limit` events of `endpoints`, oldest first: those due at `now`
   * (no later retry time) and not leased, each only when no earlier event of its endpoint and repository is
   * leased or waiting for a retry (so one repository's events go out in order). One transaction.
   */
  claim(owner: string, endpoints: string[], now: number, leaseUntil: number, limit: number): Promise<OutboxEvent[]>;
  /** Deletes delivered events that are still leased to `owner`; resolves to how many. */
  ack(owner: string, ids: number[]): Promise<number>;
  /** Releases events still leased to `owner` for another try at `nextAt`, counting a failed attempt. */
  retry(owner: string, ids: number[], nextAt: number): Promise<void>;
  /** Events not yet delivered, per endpoint. */
  backlog(): Promise<Record<string, number>>;
}

/**
 * The server's SQL metadata, authoritative for what exists, as role tables over one database
 * (src/metadata/README.md). Every method is atomic; a method that writes several tables does so
 * in one transaction, and its role is the one that owns that write.
 */
export interface MetadataStore {
  readonly name: string;
  readonly blobs: BlobTable;
  readonly manifests: ManifestTable;
  readonly uploads: UploadTable;
  readonly gc: GcStore;
  readonly usage: UsageQueries;
  readonly accounts: AccountTable;
  readonly audit: AuditLog;
  readonly scans: ScanTable;
  readonly events: EventOutbox;
  /** Locks and counters all processes sharing the store see (PostgreSQL); absent where one process is exact. */
  readonly locks?: SharedLocks;
  readonly counters?: SharedCounters;
  /** Blob link removals committed by any process sharing the store (PostgreSQL); absent where one process is exact. */
  readonly blobsGone?: BlobGoneFeed;
  /** Releases connections/handles. */
  close(): Promise<void>;
}

export type { BlobGoneFeed, BlobGoneListener, SharedCounters, SharedLocks } from './shared.js';
