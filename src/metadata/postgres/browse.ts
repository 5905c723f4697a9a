// PostgreSQL queries of the web UI's listings: tags with their manifests' types and times, a page of tags in
// order, manifest sizes; and the fill of the tags' sort keys left NULL by older builds.
import type { Digest } from '../../oci/digest.js';
import { naturalKey, semverKey, type TagPage, type TagPageQuery } from '../tag-keys.js';
import { positional, tagPageFrom, tagPageParams, tagPageSql, type TagPageRow } from '../tag-page-sql.js';
import type { ManifestSize, TagDetail, TagEntry } from '../types.js';
import type { Db } from './db.js';

/** Tags keyed per statement by `fillTagKeys`. */
const FILL_BATCH = 1000;

/**
 * Writes the sort keys of tags that have none (rows of builds before migration 11), a batch per statement.
 * Replicas starting together may both fill a row: they write the same keys.
 */
export async function fillTagKeys(db: Db): Promise<number> {
  let filled = 0;
  for (;;) {
    const rows = await db.rows<{ repo: number; name: string }>(
      'SELECT repo_id AS repo, name FROM tags WHERE natural_key IS NULL LIMIT $1',
      [FILL_BATCH],
    );
    if (rows.length === 0) return filled;
    await db.run(
      `UPDATE tags t SET natural_key = u.nk, semver_key = u.sk
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(repo, name, nk, sk)
       WHERE t.repo_id = u.repo AND t.name = u.name`,
      [
        rows.map((r) => r.repo),
        rows.map((r) => r.name),
        rows.map((r) => naturalKey(r.name)),
        rows.map((r) => semverKey(r.name)),
      ],
    );
    filled += rows.length;
  }
}

/** One page of tags in order (one statement; src/metadata/tag-page-sql.ts); null when the repository does not exist. */
export async function tagPage(db: Db, repo: string, query: TagPageQuery): Promise<TagPage | null> {
  const { shape, params } = tagPageParams('postgres', repo, query);
  const { text, values } = positional(tagPageSql('postgres', shape), params);
  return tagPageFrom(await db.rows<TagPageRow>(text, values), query.limit);
}

type TagRow = { [K in keyof TagDetail]: TagDetail[K] | null };

/** The tags of `repo` with their manifests (one statement); null when the repository does not exist. */
export async function tagDetails(db: Db, repo: string): Promise<TagDetail[] | null> {
  // LEFT JOIN from the repository: no row at all means no repository, one row of NULLs means no tags.
  const rows = await db.rows<TagRow>(
    `SELECT t.name, t.digest, t.updated_at AS "pushedAt", m.media_type AS "mediaType",
       m.artifact_type AS "artifactType", m.last_pulled_at AS "pulledAt"
     FROM repositories r LEFT JOIN tags t ON t.repo_id = r.id
     LEFT JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest
     WHERE r.name = $1`,
    [repo],
  );
  if (rows.length === 0) return null;
  return rows.filter((r) => r.name !== null) as TagDetail[];
}

/** The tags of `repo` with digest and push time only (one statement); null when the repository does not exist. */
export async function tagList(db: Db, repo: string): Promise<TagEntry[] | null> {
  const rows = await db.rows<{ [K in keyof TagEntry]: TagEntry[K] | null }>(
    `SELECT t.name, t.digest, t.updated_at AS "pushedAt"
     FROM repositories r LEFT JOIN tags t ON t.repo_id = r.id WHERE r.name = $1`,
    [repo],
  );
  if (rows.length === 0) return null;
  return rows.filter((r) => r.name !== null) as TagEntry[];
}

/** Sizes of the manifests asked about and of their child manifests (one statement), as the SQLite store gives them. */
export async function manifestSizes(db: Db, repo: string, digests: Digest[]): Promise<ManifestSize[]> {
  if (digests.length === 0) return [];
  return db.rows<ManifestSize>(
    `WITH r AS (SELECT id FROM repositories WHERE name = $1),
     asked AS (SELECT DISTINCT unnest($2::text[]) AS digest),
     wanted AS (
       SELECT a.digest, NULL::text AS parent FROM asked a
       UNION SELECT f.ref_digest, f.manifest_digest FROM manifest_refs f JOIN asked a ON f.manifest_digest = a.digest
       WHERE f.repo_id = (SELECT id FROM r) AND f.kind = 'manifest'
     )
     SELECT w.digest, w.parent, m.media_type AS "mediaType", m.artifact_type AS "artifactType", m.size,
       m.last_pulled_at AS "pulledAt",
       (SELECT COALESCE(SUM(b.size), 0) FROM manifest_refs f JOIN blobs b ON b.digest = f.ref_digest
        WHERE f.repo_id = m.repo_id AND f.manifest_digest = m.digest AND f.kind = 'blob') AS "blobBytes"
     FROM wanted w JOIN manifests m ON m.repo_id = (SELECT id FROM r) AND m.digest = w.digest`,
    [repo, digests],
  );
}
