// The metadata model of vulnerability scans (table `scans`): records and the role interface (types.ts re-exports).
import type { Digest } from '../oci/digest.js';

/** Where a manifest's vulnerability scan stands (`scan.onPush`). */
export type ScanState = 'pending' | 'done' | 'failed' | 'skipped';

/** One manifest's scan (table `scans`): what is kept to show it and to re-match it without reading layers. */
export interface ScanRecord {
  digest: Digest;
  /** A repository that holds the manifest, where its blobs are read. */
  repository: string;
  state: ScanState;
  /** The advisory database generation the findings were matched against; null until matched. */
  generation: string | null;
  /** JSON: the catalogued packages and distro, kept so a new database re-matches without reading layers. */
  packages: string | null;
  /** JSON: the report (findings), in `kura scan --format json`'s shape. */
  report: string | null;
  /** JSON: counts per severity. */
  summary: string | null;
  /** Why the scan failed (state `failed`). */
  error: string | null;
  updatedAt: number;
}

/** A manifest's scan state and counts without its report: what lists show (the web UI). */
export interface ScanCounts {
  digest: Digest;
  state: ScanState;
  /** JSON: counts per severity (null until done). */
  summary: string | null;
}

/** The scan of one manifest a repository's tags reach (a tagged manifest, or a child of a tagged index). */
export interface RepositoryScan extends ScanCounts {
  repository: string;
}

/** Vulnerability scans of pushed manifests (table `scans`), keyed by digest: content scans the same anywhere. */
export interface ScanTable {
  /** Records a manifest to scan unless the digest has a row already; true when it was added. */
  enqueue(digest: Digest, repository: string, now: number): Promise<boolean>;
  get(digest: Digest): Promise<ScanRecord | null>;
  /** The rows of the digests that have one (for counts per manifest in lists: the web UI). */
  getMany(digests: Digest[]): Promise<ScanRecord[]>;
  /** State and counts of the digests that have a row, by digest, in one statement (no report or packages). */
  summaries(digests: Digest[]): Promise<ScanCounts[]>;
  /**
   * For each named repository, the scans of the manifests its `recentTags` most recently pushed tags reach (newest
   * push time first, then name descending, as the tags page's default order): each such tagged manifest and each
   * child manifest of such a tagged index, once per repository (one statement; ordered by repository, then
   * digest). Bounded by `recentTags` per repository however many tags it holds; RangeError unless a positive integer.
   */
  repositoryScans(repositories: string[], recentTags: number): Promise<RepositoryScan[]>;
  /** Pending rows, oldest first. */
  pending(limit: number): Promise<ScanRecord[]>;
  /** Done rows matched against another database generation than `generation`, oldest first. */
  stale(generation: string, limit: number): Promise<ScanRecord[]>;
  /** Writes a row whole (insert or replace). */
  save(rec: ScanRecord): Promise<void>;
}

/** Rejects a `recentTags` bound that is not a positive safe integer (RangeError). */
export function checkRecentTags(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`recentTags must be a positive integer, not ${n}`);
}
