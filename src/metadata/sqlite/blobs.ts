// SQLite blobs and their repository links (tables `blobs`, `repository_blobs`).
import type { Digest } from '../../oci/digest.js';
import type { BlobTable, OutboxEntry } from '../types.js';
import type { SqliteEventOutbox } from './events.js';
import type { Db, Stmt } from './db.js';

export class SqliteBlobTable implements BlobTable {
  private readonly insertBlob: Stmt<[Digest, number, number]>;
  private readonly reviveBlob: Stmt<[number, Digest]>;
  private readonly linkBlob: Stmt<[number, Digest, number]>;
  private readonly isLinked: Stmt<[number, Digest], number>;
  private readonly selectBlob: Stmt<[string, Digest], number>;
  private readonly selectGlobalBlob: Stmt<[Digest], number>;
  private readonly selectRepositories: Stmt<[Digest, number], string>;
  private readonly deleteBlobLink: Stmt<[string, Digest]>;
  private readonly addTx: (repo: string, digest: Digest, size: number, lease: number, ev?: OutboxEntry[]) => void;
  private readonly unlinkTx: (repo: string, digest: Digest, events: OutboxEntry[]) => boolean;

  constructor(db: Db, events: SqliteEventOutbox) {
    this.insertBlob = db.prepare(
      'INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING',
    );
    // A lease only ever grows; adding a blob (upload, mount, manifest) also revives one GC marked.
    this.reviveBlob = db.prepare(
      `UPDATE blobs SET state = 'live', leased_until = MAX(COALESCE(leased_until, 0), ?) WHERE digest = ?`,
    );
    this.linkBlob = db.prepare(
      `INSERT INTO repository_blobs (repo_id, digest, created_at) VALUES (?, ?, ?)
       ON CONFLICT (repo_id, digest) DO NOTHING`,
    );
    this.isLinked = db
      .prepare<[number, Digest], number>('SELECT 1 FROM repository_blobs WHERE repo_id = ? AND digest = ?')
      .pluck();
    this.selectBlob = db
      .prepare<[string, Digest], number>(
        `SELECT b.size FROM repositories r
         JOIN repository_blobs rb ON rb.repo_id = r.id
         JOIN blobs b ON b.digest = rb.digest
         WHERE r.name = ? AND rb.digest = ?`,
      )
      .pluck();
    this.selectGlobalBlob = db.prepare<[Digest], number>('SELECT size FROM blobs WHERE digest = ?').pluck();
    this.selectRepositories = db
      .prepare<[Digest, number], string>(
        `SELECT r.name FROM repository_blobs rb
         JOIN repositories r ON r.id = rb.repo_id
         JOIN blobs b ON b.digest = rb.digest
         WHERE rb.digest = ? AND b.state = 'live' ORDER BY r.name LIMIT ?`,
      )
      .pluck();
    this.deleteBlobLink = db.prepare(
      'DELETE FROM repository_blobs WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?',
    );
    this.addTx = db.write((repo: string, digest: Digest, size: number, lease: number, ev?: OutboxEntry[]) => {
      const now = db.now();
      this.record(db.ensureRepo(repo, now), digest, size, lease, now);
      events.write(ev, now);
    });
    this.unlinkTx = db.write((repo: string, digest: Digest, ev: OutboxEntry[]) => {
      const done = this.deleteBlobLink.run(repo, digest).changes > 0;
      if (done) events.write(ev, db.now());
      return done;
    });
  }

  /**
   * Inserts a blob row if absent, revives it, extends its lease and links it to a repository.
   * Must run inside a write transaction (`add`, and the manifest table's `put`).
   */
  record(repoId: number, digest: Digest, size: number, leaseUntil: number, now: number): void {
    this.insertBlob.run(digest, size, now);
    this.reviveBlob.run(leaseUntil, digest);
    this.linkBlob.run(repoId, digest, now);
  }

  /** Whether a blob is linked to a repository (by id). */
  linked(repoId: number, digest: Digest): boolean {
    return this.isLinked.get(repoId, digest) !== undefined;
  }

  async add(repo: string, digest: Digest, size: number, leaseUntil = 0, events?: OutboxEntry[]): Promise<void> {
    this.addTx(repo, digest, size, leaseUntil, events);
  }

  async get(repo: string, digest: Digest): Promise<number | null> {
    return this.selectBlob.get(repo, digest) ?? null;
  }

  async getGlobal(digest: Digest): Promise<number | null> {
    return this.selectGlobalBlob.get(digest) ?? null;
  }

  async repositories(digest: Digest, limit: number): Promise<string[]> {
    return this.selectRepositories.all(digest, limit);
  }

  async unlink(repo: string, digest: Digest, events?: OutboxEntry[]): Promise<boolean> {
    if (events?.length) return this.unlinkTx(repo, digest, events);
    return this.deleteBlobLink.run(repo, digest).changes > 0;
  }
}
