/** What a Registry is configured with: limits, GC grace, immutability, retention and quota rules. */
import type { EventRecorder } from './events.js';
import type { EcrLifecyclePolicy, RetentionRule } from './retention.js';

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
  /**
   * Other processes use the same metadata store (metadata.shared, PostgreSQL): blob touches are also written to
   * it (batched), so their collectors see them.
   */
  sharedMetadata?: boolean;
  /** Webhook events (`notifications`): changes write theirs to the outbox in their own transaction. */
  events?: EventRecorder;
  now?: () => number;
}

/** The request-size limits the HTTP layer enforces before a body reaches the registry. */
export type RegistryLimits = Pick<RegistryOptions, 'manifestMaxBytes' | 'blobMaxBytes' | 'tagsPerPush' | 'pageMax'>;

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
