/**
 * Garbage collection and fsck (the protocol and why it holds: README.md in this folder). Mark in one
 * metadata transaction, then sweep bytes before rows, each digest under its lock.
 */
import type { Digest } from '../oci/digest.js';
import { digestAlgorithm, finishDigest, newHasher } from '../oci/digest.js';
import type { RegistryCore } from './core.js';
import { collectUnrecorded } from './unrecorded.js';
import type { UploadService } from './uploads.js';

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
  /** Set when nothing was done because another process sharing the metadata store is collecting. */
  skipped?: string;
}

export interface GcOptions {
  dryRun?: boolean;
  graceMs?: number;
  leaseGraceMs?: number;
  uploadsOlderThanMs?: number;
}

export class GcService {
  constructor(
    private readonly core: RegistryCore,
    private readonly uploads: UploadService,
  ) {}

  /**
   * Deletes blobs that no manifest references, that were created and last touched more than the
   * grace period ago. Mark (one metadata transaction) before sweep (bytes, then the row), each sweep
   * under the digest's lock. Also finishes sweeps an interrupted GC left, and purges stale uploads.
   */
  async collect(opts: GcOptions = {}): Promise<GcResult> {
    const { meta } = this.core;
    // A dry run changes nothing, so it needs no election; a real run on a shared store runs on one replica at a time.
    if (opts.dryRun || !meta.gc.exclusive) return this.collectNow(opts);
    const out = await meta.gc.exclusive(() => this.collectNow(opts));
    if (out !== null) return out;
    const graceMs = opts.graceMs ?? this.core.graceMs;
    const none = { blobs: [], bytes: 0, kept: [], swept: 0, unrecorded: [], uploadsPurged: 0 };
    return { dryRun: false, graceMs, ...none, skipped: 'another kura process is collecting garbage in this database' };
  }

  private async collectNow(opts: GcOptions): Promise<GcResult> {
    const { meta, blobs, digestLock, blobTouches } = this.core;
    const graceMs = opts.graceMs ?? this.core.graceMs;
    const now = this.core.now();
    const cutoff = now - graceMs;
    // A lease is "touched at + the grace it was written with" (leaseGraceMs, by default this
    // registry's): a run with another grace judges the touch by its own grace, not by the lease's end.
    const leaseNow = now + (opts.leaseGraceMs ?? this.core.graceMs) - graceMs;
    for (const [d, t] of blobTouches) if (t < cutoff) blobTouches.delete(d);
    const listed = await meta.gc.candidates(leaseNow, cutoff);
    // No await between this filter and the mark's transaction: a HEAD cannot slip in between.
    const untouched = listed.filter((d) => (blobTouches.get(d) ?? 0) < cutoff);
    const marked = opts.dryRun ? untouched : await meta.gc.mark(untouched, leaseNow, cutoff);
    const sized = async (digest: Digest) => ({ digest, size: (await meta.blobs.getGlobal(digest)) ?? 0 });
    const blobList: GcResult['blobs'] = [];
    for (const digest of marked) blobList.push(await sized(digest));
    // Unreferenced blobs left alone: within the grace (created, uploaded, mounted or read lately).
    const gone = new Set(marked);
    const kept: GcResult['kept'] = [];
    for (const digest of await meta.gc.candidates(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) {
      if (!gone.has(digest)) kept.push(await sized(digest));
    }
    const bytes = blobList.reduce((a, b) => a + b.size, 0);
    const dryRun = opts.dryRun === true;
    const result: GcResult = {
      dryRun,
      graceMs,
      blobs: blobList,
      bytes,
      kept,
      swept: 0,
      unrecorded: [],
      uploadsPurged: 0,
    };
    if (dryRun) {
      result.unrecorded = await collectUnrecorded(blobs, meta, digestLock, cutoff, true);
      return result;
    }
    for (const digest of new Set([...marked, ...(await meta.gc.listDeleting())])) {
      await digestLock.run(digest, async () => {
        if ((await meta.gc.state(digest)) !== 'deleting') return;
        await blobs.delete(digest);
        await meta.gc.forget(digest);
        result.swept++;
      });
    }
    result.unrecorded = await collectUnrecorded(blobs, meta, digestLock, cutoff, false);
    result.uploadsPurged = await this.uploads.purge(opts.uploadsOlderThanMs ?? 7 * 24 * 3_600_000);
    return result;
  }

  /**
   * Compares metadata and stored bytes. Run it on a data directory no server is using (`kura fsck`):
   * an upload committing meanwhile would look like an orphan for a moment.
   */
  async fsck(opts: { repair?: boolean; verify?: boolean } = {}): Promise<FsckReport> {
    const { meta, blobs, digestLock } = this.core;
    const report: FsckReport = { checked: 0, missing: [], corrupt: [], orphaned: [], pending: [], repaired: false };
    const rows = new Map<string, { size: number; state: string }>();
    for (const row of await meta.gc.listBlobs()) {
      rows.set(row.digest, row);
      report.checked++;
      if (row.state === 'deleting') {
        report.pending.push(row.digest);
        continue;
      }
      const size = await blobs.stat(row.digest);
      if (size !== row.size) report.missing.push(row.digest);
      else if (opts.verify && (await this.hashStored(row.digest)) !== row.digest) report.corrupt.push(row.digest);
    }
    for await (const d of blobs.list()) if (!rows.has(d)) report.orphaned.push(d);
    if (!opts.repair) return report;
    for (const d of report.missing) await digestLock.run(d, async () => void (await meta.gc.drop(d)));
    for (const d of [...report.corrupt, ...report.orphaned]) {
      await digestLock.run(d, async () => {
        await blobs.delete(d);
        await meta.gc.drop(d);
      });
    }
    if (report.pending.length > 0) await this.collect({ graceMs: Number.MAX_SAFE_INTEGER / 2 });
    this.core.lookups.invalidate();
    report.repaired = true;
    return report;
  }

  private async hashStored(digest: Digest): Promise<Digest> {
    const algorithm = digestAlgorithm(digest);
    const hash = newHasher(algorithm);
    for await (const chunk of await this.core.blobs.read(digest)) hash.update(chunk as Buffer);
    return finishDigest(algorithm, hash);
  }
}
