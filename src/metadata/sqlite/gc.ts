// SQLite garbage collection and fsck over blob rows and their states (src/registry/README.md has the protocol).
import type { Digest } from '../../oci/digest.js';
import type { BlobState, GcStore } from '../types.js';
import type { Db, Stmt } from './db.js';

/** Digests per `recorded` query, well under SQLite's bound-parameter limit. */
const RECORDED_SLICE = 500;

export class SqliteGcStore implements GcStore {
  private readonly selectCandidates: Stmt<[{ now: number; cutoff: number }], Digest>;
  private readonly isCandidate: Stmt<[{ digest: Digest; now: number; cutoff: number }], number>;
  private readonly markDeleting: Stmt<[Digest]>;
  private readonly unlinkEverywhere: Stmt<[Digest]>;
  private readonly selectDeleting: Stmt<[], Digest>;
  private readonly selectState: Stmt<[Digest], BlobState>;
  private readonly forgetDeleting: Stmt<[Digest]>;
  private readonly selectAllBlobs: Stmt<[], { digest: Digest; size: number; state: BlobState }>;
  private readonly deleteBlobRow: Stmt<[Digest]>;
  private readonly markTx: (digests: Digest[], now: number, cutoff: number) => Digest[];
  private readonly dropTx: (digest: Digest) => boolean;
  private readonly touchTx: (digests: Digest[], leaseUntil: number) => void;

  constructor(private readonly db: Db) {
    const candidate = `b.state = 'live' AND b.created_at < @cutoff AND COALESCE(b.leased_until, 0) < @now
       AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.ref_digest = b.digest)
       AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)`;
    this.selectCandidates = db
      .prepare<
        [{ now: number; cutoff: number }],
        Digest
      >(`SELECT b.digest FROM blobs b WHERE ${candidate} ORDER BY b.created_at, b.digest`)
      .pluck();
    this.isCandidate = db
      .prepare<
        [{ digest: Digest; now: number; cutoff: number }],
        number
      >(`SELECT 1 FROM blobs b WHERE b.digest = @digest AND ${candidate}`)
      .pluck();
    this.markDeleting = db.prepare(`UPDATE blobs SET state = 'deleting' WHERE digest = ?`);
    this.unlinkEverywhere = db.prepare('DELETE FROM repository_blobs WHERE digest = ?');
    this.selectDeleting = db
      .prepare<[], Digest>(`SELECT digest FROM blobs WHERE state = 'deleting' ORDER BY digest`)
      .pluck();
    this.selectState = db.prepare<[Digest], BlobState>('SELECT state FROM blobs WHERE digest = ?').pluck();
    this.forgetDeleting = db.prepare(`DELETE FROM blobs WHERE digest = ? AND state = 'deleting'`);
    this.selectAllBlobs = db.prepare('SELECT digest, size, state FROM blobs ORDER BY digest');
    this.deleteBlobRow = db.prepare('DELETE FROM blobs WHERE digest = ?');

    // Mark: re-check every candidate inside the write transaction, so a manifest PUT or an upload that
    // committed since the candidates were listed wins; the links go in the same step.
    this.markTx = db.write((digests: Digest[], now: number, cutoff: number): Digest[] => {
      const marked: Digest[] = [];
      for (const d of digests) {
        if (this.isCandidate.get({ digest: d, now, cutoff }) === undefined) continue;
        this.markDeleting.run(d);
        this.unlinkEverywhere.run(d);
        marked.push(d);
      }
      return marked;
    });
    const extendLease = db.prepare<[number, Digest]>(
      `UPDATE blobs SET leased_until = MAX(COALESCE(leased_until, 0), ?) WHERE digest = ? AND state = 'live'`,
    );
    this.touchTx = db.write((digests: Digest[], leaseUntil: number): void => {
      for (const d of digests) extendLease.run(leaseUntil, d);
    });
    this.dropTx = db.write((digest: Digest): boolean => {
      this.unlinkEverywhere.run(digest);
      return this.deleteBlobRow.run(digest).changes > 0;
    });
  }

  async candidates(now: number, cutoff: number): Promise<Digest[]> {
    return this.selectCandidates.all({ now, cutoff });
  }

  async mark(digests: Digest[], now: number, cutoff: number): Promise<Digest[]> {
    return this.markTx(digests, now, cutoff);
  }

  async listDeleting(): Promise<Digest[]> {
    return this.selectDeleting.all();
  }

  async state(digest: Digest): Promise<BlobState | null> {
    return this.selectState.get(digest) ?? null;
  }

  async forget(digest: Digest): Promise<boolean> {
    return this.forgetDeleting.run(digest).changes > 0;
  }

  async recorded(digests: Digest[]): Promise<Set<Digest>> {
    const found = new Set<Digest>();
    for (let i = 0; i < digests.length; i += RECORDED_SLICE) {
      const slice = digests.slice(i, i + RECORDED_SLICE);
      // The IN list's length varies with the slice, so this statement is prepared per call.
      const rows = this.db
        .prepare<Digest[], Digest>(`SELECT digest FROM blobs WHERE digest IN (${slice.map(() => '?').join(',')})`)
        .pluck()
        .all(...slice);
      for (const d of rows) found.add(d);
    }
    return found;
  }

  async listBlobs(): Promise<{ digest: Digest; size: number; state: BlobState }[]> {
    return this.selectAllBlobs.all();
  }

  /** A file several processes share (metadata.shared): HEAD touches written as leases. */
  async touch(digests: Digest[], leaseUntil: number): Promise<void> {
    this.touchTx(digests, leaseUntil);
  }

  async drop(digest: Digest): Promise<boolean> {
    return this.dropTx(digest);
  }
}
