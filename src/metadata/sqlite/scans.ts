// SQLite vulnerability scans of pushed manifests (table `scans`).
import type { Digest } from '../../oci/digest.js';
import { checkRecentTags } from '../scan-types.js';
import type { RepositoryScan, ScanCounts, ScanRecord, ScanTable } from '../types.js';
import type { Db, Stmt } from './db.js';

const COLS = 'digest, repository, state, generation, packages, report, summary, error, updated_at AS updatedAt';

export class SqliteScanTable implements ScanTable {
  private readonly insertNew: Stmt<[string, string, number]>;
  private readonly selectOne: Stmt<[string], ScanRecord>;
  private readonly selectPending: Stmt<[number], ScanRecord>;
  private readonly selectStale: Stmt<[string, number], ScanRecord>;
  private readonly upsert: Stmt<[ScanRecord]>;
  private readonly selectCounts: Stmt<[string], ScanCounts>;
  private readonly selectRepoScans: Stmt<[{ names: string; skip: number }], RepositoryScan>;

  constructor(private readonly db: Db) {
    this.insertNew = db.prepare(
      `INSERT INTO scans (digest, repository, state, updated_at) VALUES (?, ?, 'pending', ?)
       ON CONFLICT (digest) DO NOTHING`,
    );
    this.selectOne = db.prepare(`SELECT ${COLS} FROM scans WHERE digest = ?`);
    this.selectPending = db.prepare(
      `SELECT ${COLS} FROM scans WHERE state = 'pending' ORDER BY updated_at, digest LIMIT ?`,
    );
    this.selectStale = db.prepare(
      `SELECT ${COLS} FROM scans WHERE state = 'done' AND (generation IS NULL OR generation <> ?)
       ORDER BY updated_at, digest LIMIT ?`,
    );
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO scans
         (digest, repository, state, generation, packages, report, summary, error, updated_at)
       VALUES (@digest, @repository, @state, @generation, @packages, @report, @summary, @error, @updatedAt)`,
    );
    this.selectCounts = db.prepare(
      `SELECT digest, state, summary FROM scans WHERE digest IN (SELECT value FROM json_each(?)) ORDER BY digest`,
    );
    // CROSS JOIN keeps SQLite from scanning all of manifest_refs: each tagged manifest's children by primary key.
    this.selectRepoScans = db.prepare(
      // The cut-off (push time, name) of each repository's `recent`-th newest tag: two index probes per repository
      // on tags_by_pushed, then a range of at most `recent` entries of the same index (no walk of all its tags).
      `WITH wanted AS (
         SELECT r.id AS repo_id, r.name AS repository,
           (SELECT updated_at FROM tags WHERE repo_id = r.id ORDER BY updated_at DESC, name DESC
            LIMIT 1 OFFSET @skip) AS cut_at,
           (SELECT name FROM tags WHERE repo_id = r.id ORDER BY updated_at DESC, name DESC
            LIMIT 1 OFFSET @skip) AS cut_name
         FROM repositories r WHERE r.name IN (SELECT value FROM json_each(@names))
       ),
       tagged AS (
         SELECT DISTINCT w.repo_id, w.repository, t.digest FROM wanted w JOIN tags t ON t.repo_id = w.repo_id
         WHERE (t.updated_at, t.name) >= (COALESCE(w.cut_at, -1), COALESCE(w.cut_name, ''))
       ),
       reached AS (
         SELECT repository, digest FROM tagged
         UNION SELECT g.repository, f.ref_digest FROM tagged g CROSS JOIN manifest_refs f
           ON f.repo_id = g.repo_id AND f.manifest_digest = g.digest AND f.kind = 'manifest'
       )
       SELECT x.repository, x.digest, s.state, s.summary FROM reached x JOIN scans s ON s.digest = x.digest
       ORDER BY x.repository, x.digest`,
    );
  }

  async enqueue(digest: Digest, repository: string, now: number): Promise<boolean> {
    return this.insertNew.run(digest, repository, now).changes > 0;
  }

  async get(digest: Digest): Promise<ScanRecord | null> {
    return this.selectOne.get(digest) ?? null;
  }

  async getMany(digests: Digest[]): Promise<ScanRecord[]> {
    const out: ScanRecord[] = [];
    for (let i = 0; i < digests.length; i += 500) {
      const part = digests.slice(i, i + 500);
      const q = this.db.prepare<string[], ScanRecord>(
        `SELECT ${COLS} FROM scans WHERE digest IN (${part.map(() => '?').join(', ')}) ORDER BY digest`,
      );
      out.push(...q.all(...part));
    }
    return out;
  }

  async summaries(digests: Digest[]): Promise<ScanCounts[]> {
    return digests.length === 0 ? [] : this.selectCounts.all(JSON.stringify(digests));
  }

  async repositoryScans(repositories: string[], recentTags: number): Promise<RepositoryScan[]> {
    checkRecentTags(recentTags);
    if (repositories.length === 0) return [];
    return this.selectRepoScans.all({ names: JSON.stringify(repositories), skip: recentTags - 1 });
  }

  async pending(limit: number): Promise<ScanRecord[]> {
    return this.selectPending.all(limit);
  }

  async stale(generation: string, limit: number): Promise<ScanRecord[]> {
    return this.selectStale.all(generation, limit);
  }

  async save(rec: ScanRecord): Promise<void> {
    this.upsert.run({ ...rec });
  }
}
