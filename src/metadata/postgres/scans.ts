// PostgreSQL vulnerability scans of pushed manifests (table `scans`).
import type { Digest } from '../../oci/digest.js';
import { checkRecentTags } from '../scan-types.js';
import type { RepositoryScan, ScanCounts, ScanRecord, ScanTable } from '../types.js';
import type { Db } from './db.js';

const COLS = 'digest, repository, state, generation, packages, report, summary, error, updated_at AS "updatedAt"';

export class PgScanTable implements ScanTable {
  constructor(private readonly db: Db) {}

  async enqueue(digest: Digest, repository: string, now: number): Promise<boolean> {
    const n = await this.db.run(
      `INSERT INTO scans (digest, repository, state, updated_at) VALUES ($1, $2, 'pending', $3)
       ON CONFLICT (digest) DO NOTHING`,
      [digest, repository, now],
    );
    return n > 0;
  }

  async get(digest: Digest): Promise<ScanRecord | null> {
    return (await this.db.one<ScanRecord>(`SELECT ${COLS} FROM scans WHERE digest = $1`, [digest])) ?? null;
  }

  async getMany(digests: Digest[]): Promise<ScanRecord[]> {
    if (digests.length === 0) return [];
    return this.db.rows<ScanRecord>(`SELECT ${COLS} FROM scans WHERE digest = ANY($1::text[]) ORDER BY digest`, [
      digests,
    ]);
  }

  async summaries(digests: Digest[]): Promise<ScanCounts[]> {
    if (digests.length === 0) return [];
    return this.db.rows<ScanCounts>(
      `SELECT digest, state, summary FROM scans WHERE digest = ANY($1::text[]) ORDER BY digest COLLATE "C"`,
      [digests],
    );
  }

  async repositoryScans(repositories: string[], recentTags: number): Promise<RepositoryScan[]> {
    checkRecentTags(recentTags);
    if (repositories.length === 0) return [];
    // Each repository's newest tags through tags_by_pushed, read backwards and cut at `recentTags` (no full walk).
    return this.db.rows<RepositoryScan>(
      `WITH tagged AS (
         SELECT DISTINCT r.id AS repo_id, r.name AS repository, t.digest FROM repositories r
         CROSS JOIN LATERAL (SELECT u.digest FROM tags u WHERE u.repo_id = r.id
           ORDER BY u.updated_at DESC, u.name DESC LIMIT $2) t
         WHERE r.name = ANY($1::text[])
       ),
       reached AS (
         SELECT repository, digest FROM tagged
         UNION SELECT g.repository, f.ref_digest FROM tagged g JOIN manifest_refs f
           ON f.repo_id = g.repo_id AND f.manifest_digest = g.digest AND f.kind = 'manifest'
       )
       SELECT x.repository, x.digest, s.state, s.summary FROM reached x JOIN scans s ON s.digest = x.digest
       ORDER BY x.repository COLLATE "C", x.digest COLLATE "C"`,
      [repositories, recentTags],
    );
  }

  async pending(limit: number): Promise<ScanRecord[]> {
    return this.db.rows<ScanRecord>(
      `SELECT ${COLS} FROM scans WHERE state = 'pending' ORDER BY updated_at, digest LIMIT $1`,
      [limit],
    );
  }

  async stale(generation: string, limit: number): Promise<ScanRecord[]> {
    return this.db.rows<ScanRecord>(
      `SELECT ${COLS} FROM scans WHERE state = 'done' AND (generation IS NULL OR generation <> $1)
       ORDER BY updated_at, digest LIMIT $2`,
      [generation, limit],
    );
  }

  async save(r: ScanRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO scans (digest, repository, state, generation, packages, report, summary, error, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (digest) DO UPDATE SET repository = excluded.repository, state = excluded.state,
         generation = excluded.generation, packages = excluded.packages, report = excluded.report,
         summary = excluded.summary, error = excluded.error, updated_at = excluded.updated_at`,
      [r.digest, r.repository, r.state, r.generation, r.packages, r.report, r.summary, r.error, r.updatedAt],
    );
  }
}
