// PostgreSQL manifests with their references, tags and referrers (tables `manifests`, `manifest_refs`, `tags`).
import type { Digest } from '../../oci/digest.js';
import { checkPage } from '../page.js';
import { naturalKey, semverKey, type TagPage, type TagPageQuery } from '../tag-keys.js';
import type {
  ManifestRecord,
  ManifestRefs,
  ManifestSize,
  ManifestTable,
  OutboxEntry,
  Page,
  Pull,
  RepositorySnapshot,
  TagDetail,
  TagEntry,
} from '../types.js';
import type { PgBlobTable } from './blobs.js';
import { manifestSizes, tagDetails, tagList, tagPage } from './browse.js';
import type { Db, Sql } from './db.js';
import type { PgEventOutbox } from './events.js';

interface ManifestRow {
  digest: Digest;
  mediaType: string;
  size: number;
  artifactType: string | null;
  subject: Digest | null;
  annotations: string | null;
  createdAt: number;
}

type PutResult = { missing: Digest[]; refused?: string[] };

const MANIFEST_COLUMNS = `m.digest, m.media_type AS "mediaType", m.size, m.artifact_type AS "artifactType",
  m.subject, m.annotations, m.created_at AS "createdAt"`;

function toRecord(repo: string, row: ManifestRow): ManifestRecord {
  return {
    repo,
    digest: row.digest,
    mediaType: row.mediaType,
    size: row.size,
    artifactType: row.artifactType,
    subject: row.subject,
    annotations: row.annotations === null ? null : (JSON.parse(row.annotations) as Record<string, string>),
    createdAt: row.createdAt,
  };
}

const sorted = (ds: Iterable<string>): string[] => [...new Set(ds)].sort();

/**
 * `put` writes manifests, refs and tags and records the manifest as a blob, in one transaction. Where
 * SQLite has one writer, here `put` locks what it checks: the referenced blob rows FOR SHARE (a GC `mark`
 * locks them FOR UPDATE, so one of the two waits for the other and then sees its outcome), the child
 * manifest rows FOR SHARE (against a concurrent delete), and each fixed tag by a transaction advisory lock
 * (a tag that does not exist yet has no row to lock).
 */
export class PgManifestTable implements ManifestTable {
  constructor(
    private readonly db: Db,
    private readonly blobs: PgBlobTable,
    private readonly events: PgEventOutbox,
  ) {}

  private async putNow(q: Sql, rec: ManifestRecord, refs: ManifestRefs, tags: string[], fixed: string[]) {
    const fixedHere = sorted(fixed.filter((t) => tags.includes(t)));
    // First, so a writer that waited here reads the repository and tags its predecessor committed.
    for (const t of fixedHere) {
      await q.run('SELECT pg_advisory_xact_lock(hashtext($1))', [`kura tag ${rec.repo}:${t}`]);
    }
    const existing = await this.db.repoId(q, rec.repo);
    const blobRefs = sorted(refs.blobs);
    const manifestRefs = sorted(refs.manifests);
    // Deduplicate what is reported, not what is checked: a digest can be a linked blob yet not a manifest.
    const missing = new Set<Digest>();
    if (existing === undefined) {
      for (const d of [...refs.blobs, ...refs.manifests]) missing.add(d);
    } else {
      // Sorted, so two writers lock in one order. Then a new statement (READ COMMITTED) sees what the holder committed.
      if (blobRefs.length > 0) {
        await q.run('SELECT 1 FROM blobs WHERE digest = ANY($1) ORDER BY digest FOR SHARE', [blobRefs]);
        const linked = await q.rows<{ digest: Digest }>(
          'SELECT digest FROM repository_blobs WHERE repo_id = $1 AND digest = ANY($2) FOR SHARE',
          [existing, blobRefs],
        );
        const have = new Set(linked.map((r) => r.digest));
        for (const d of refs.blobs) if (!have.has(d)) missing.add(d);
      }
      if (manifestRefs.length > 0) {
        const found = await q.rows<{ digest: Digest }>(
          'SELECT digest FROM manifests WHERE repo_id = $1 AND digest = ANY($2) ORDER BY digest FOR SHARE',
          [existing, manifestRefs],
        );
        const have = new Set(found.map((r) => r.digest));
        for (const d of refs.manifests) if (!have.has(d)) missing.add(d);
      }
    }
    // A partial put (a pull-through cache storing a manifest before its blobs) records the refs all the same.
    if (missing.size > 0 && refs.partial !== true) return { missing: [...missing] };
    if (existing !== undefined && fixedHere.length > 0) {
      const current = await q.rows<{ name: string; digest: Digest }>(
        'SELECT name, digest FROM tags WHERE repo_id = $1 AND name = ANY($2)',
        [existing, fixedHere],
      );
      const refused = fixed.filter((t) => current.some((c) => c.name === t && c.digest !== rec.digest));
      if (refused.length > 0) return { missing: [], refused };
    }

    const now = this.db.now();
    const repoId = existing ?? (await this.db.ensureRepo(q, rec.repo, now));
    const annotations = rec.annotations === null ? null : JSON.stringify(rec.annotations);
    await q.run(
      `INSERT INTO manifests (repo_id, digest, media_type, size, artifact_type, subject, annotations, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (repo_id, digest) DO NOTHING`,
      [repoId, rec.digest, rec.mediaType, rec.size, rec.artifactType, rec.subject, annotations, rec.createdAt],
    );
    const refRows = [...refs.blobs.map((d) => [d, 'blob']), ...refs.manifests.map((d) => [d, 'manifest'])] as const;
    if (refRows.length > 0) {
      await q.run(
        `INSERT INTO manifest_refs (repo_id, manifest_digest, ref_digest, kind)
         SELECT $1, $2, r, k FROM unnest($3::text[], $4::text[]) AS u(r, k)
         ON CONFLICT (repo_id, manifest_digest, ref_digest, kind) DO NOTHING`,
        [repoId, rec.digest, refRows.map((r) => r[0]), refRows.map((r) => r[1])],
      );
    }
    await this.blobs.record(q, repoId, rec.digest, rec.size, 0, now);
    for (const tag of tags) {
      await q.run(
        `INSERT INTO tags (repo_id, name, digest, updated_at, natural_key, semver_key) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at,
           natural_key = excluded.natural_key, semver_key = excluded.semver_key`,
        [repoId, tag, rec.digest, now, naturalKey(tag), semverKey(tag)],
      );
    }
    return { missing: [] };
  }

  async put(
    rec: ManifestRecord,
    refs: ManifestRefs,
    tags: string[],
    fixedTags: string[] = [],
    events?: OutboxEntry[],
  ): Promise<PutResult> {
    return this.db.tx(async (q) => {
      const result = await this.putNow(q, rec, refs, tags, fixedTags);
      if (result.missing.length === 0 && !result.refused) await this.events.write(q, events, this.db.now());
      return result;
    });
  }

  async get(repo: string, digest: Digest): Promise<ManifestRecord | null> {
    const row = await this.db.one<ManifestRow>(
      `SELECT ${MANIFEST_COLUMNS} FROM repositories r JOIN manifests m ON m.repo_id = r.id
       WHERE r.name = $1 AND m.digest = $2`,
      [repo, digest],
    );
    return row === undefined ? null : toRecord(repo, row);
  }

  async resolveTag(repo: string, tag: string): Promise<ManifestRecord | null> {
    const row = await this.db.one<ManifestRow>(
      `SELECT ${MANIFEST_COLUMNS} FROM repositories r
       JOIN tags t ON t.repo_id = r.id
       JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest
       WHERE r.name = $1 AND t.name = $2`,
      [repo, tag],
    );
    return row === undefined ? null : toRecord(repo, row);
  }

  async delete(repo: string, digest: Digest, events?: OutboxEntry[]): Promise<boolean> {
    return this.db.tx(async (q) => {
      const repoId = await this.db.repoId(q, repo);
      if (repoId === undefined) return false;
      // Children first: tags and refs hold foreign keys to the manifest row.
      await q.run('DELETE FROM tags WHERE repo_id = $1 AND digest = $2', [repoId, digest]);
      await q.run('DELETE FROM manifest_refs WHERE repo_id = $1 AND manifest_digest = $2', [repoId, digest]);
      const done = (await q.run('DELETE FROM manifests WHERE repo_id = $1 AND digest = $2', [repoId, digest])) > 0;
      if (done) await this.events.write(q, events, this.db.now());
      return done;
    });
  }

  async deleteTag(repo: string, tag: string, events?: OutboxEntry[]): Promise<boolean> {
    return this.db.tx(async (q) => {
      const n = await q.run(
        'DELETE FROM tags WHERE repo_id = (SELECT id FROM repositories WHERE name = $1) AND name = $2',
        [repo, tag],
      );
      if (n > 0) await this.events.write(q, events, this.db.now());
      return n > 0;
    });
  }

  async listTags(repo: string, page: Page): Promise<string[] | null> {
    checkPage(page);
    // One query answers both "does the repository exist" and the page: a LEFT JOIN keeps the repository row.
    const rows = await this.db.rows<{ name: string | null }>(
      `SELECT t.name FROM repositories r
       LEFT JOIN LATERAL (SELECT name FROM tags WHERE repo_id = r.id AND name > $2 ORDER BY name LIMIT $3) t ON true
       WHERE r.name = $1`,
      [repo, page.last ?? '', page.n ?? null],
    );
    if (rows.length === 0) return null;
    return rows.filter((r) => r.name !== null).map((r) => r.name!);
  }

  async listRepositories(page: Page): Promise<string[]> {
    checkPage(page);
    const rows = await this.db.rows<{ name: string }>(
      'SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2',
      [page.last ?? '', page.n ?? null],
    );
    return rows.map((r) => r.name);
  }

  async listReferrers(
    repo: string,
    subject: Digest,
    artifactType?: string,
    page: Page = {},
  ): Promise<ManifestRecord[]> {
    const rows = await this.db.rows<ManifestRow>(
      `SELECT ${MANIFEST_COLUMNS} FROM repositories r JOIN manifests m ON m.repo_id = r.id
       WHERE r.name = $1 AND m.subject = $2 AND ($3::text IS NULL OR m.artifact_type = $3)
         AND m.digest COLLATE "C" > $4 ORDER BY m.digest COLLATE "C" LIMIT $5`,
      [repo, subject, artifactType ?? null, page.last ?? '', page.n ?? null],
    );
    return rows.map((row) => toRecord(repo, row));
  }

  async recordPulls(pulls: Pull[]): Promise<void> {
    if (pulls.length === 0) return;
    // One statement for the batch; the latest time per manifest wins (GREATEST), as in SQLite's MAX.
    await this.db.run(
      `UPDATE manifests m SET last_pulled_at = GREATEST(COALESCE(m.last_pulled_at, 0), p.at)
       FROM (SELECT r.id AS repo_id, u.digest, MAX(u.at) AS at
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(repo, digest, at)
             JOIN repositories r ON r.name = u.repo GROUP BY r.id, u.digest) p
       WHERE m.repo_id = p.repo_id AND m.digest = p.digest`,
      [pulls.map((p) => p.repo), pulls.map((p) => p.digest), pulls.map((p) => p.at)],
    );
  }

  async snapshot(repo: string): Promise<RepositorySnapshot | null> {
    return this.db.tx(async (q) => {
      const id = await this.db.repoId(q, repo);
      if (id === undefined) return null;
      const children = new Map<Digest, Digest[]>();
      const refs = await q.rows<{ parent: Digest; child: Digest }>(
        `SELECT manifest_digest AS parent, ref_digest AS child FROM manifest_refs
         WHERE repo_id = $1 AND kind = 'manifest'`,
        [id],
      );
      for (const { parent, child } of refs) children.set(parent, [...(children.get(parent) ?? []), child]);
      const tags = await q.rows<RepositorySnapshot['tags'][number]>(
        'SELECT name, digest, updated_at AS "pushedAt" FROM tags WHERE repo_id = $1 ORDER BY name',
        [id],
      );
      const manifests = await q.rows<Omit<RepositorySnapshot['manifests'][number], 'children'>>(
        `SELECT digest, created_at AS "pushedAt", last_pulled_at AS "pulledAt", subject, artifact_type AS "artifactType"
         FROM manifests WHERE repo_id = $1 ORDER BY digest COLLATE "C"`,
        [id],
      );
      return { repo, tags, manifests: manifests.map((m) => ({ ...m, children: children.get(m.digest) ?? [] })) };
    }, 'read');
  }

  tagDetails(repo: string): Promise<TagDetail[] | null> {
    return tagDetails(this.db, repo);
  }

  tagList(repo: string): Promise<TagEntry[] | null> {
    return tagList(this.db, repo);
  }

  tagPage(repo: string, query: TagPageQuery): Promise<TagPage | null> {
    return tagPage(this.db, repo, query);
  }

  sizes(repo: string, digests: Digest[]): Promise<ManifestSize[]> {
    return manifestSizes(this.db, repo, digests);
  }
}
