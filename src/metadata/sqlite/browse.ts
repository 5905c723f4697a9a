// SQLite queries of the web UI's listings: tags with their manifests' types and times, a page of tags in order,
// manifest sizes; and the fill of the tags' sort keys left NULL by older builds.
import type { Digest } from '../../oci/digest.js';
import { naturalKey, semverKey, type TagPage, type TagPageQuery } from '../tag-keys.js';
import { tagPageFrom, tagPageParams, tagPageSql, type TagPageRow } from '../tag-page-sql.js';
import type { ManifestSize, TagDetail, TagEntry } from '../types.js';
import type { Db, Stmt } from './db.js';

/** Tags keyed per write transaction by `fillTagKeys`. */
const FILL_BATCH = 1000;

/** Writes the sort keys of tags that have none (rows of builds before migration 11), a batch per transaction. */
export function fillTagKeys(db: Db): number {
  const unkeyed = db.prepare<[number], { repo: number; name: string }>(
    'SELECT repo_id AS repo, name FROM tags WHERE natural_key IS NULL LIMIT ?',
  );
  const set = db.prepare<[string, string, number, string]>(
    'UPDATE tags SET natural_key = ?, semver_key = ? WHERE repo_id = ? AND name = ?',
  );
  const batch = db.write((): number => {
    const rows = unkeyed.all(FILL_BATCH);
    for (const r of rows) set.run(naturalKey(r.name), semverKey(r.name), r.repo, r.name);
    return rows.length;
  });
  // Checked first outside a transaction: an open with nothing to fill takes no write lock.
  if (unkeyed.all(1).length === 0) return 0;
  let filled = 0;
  for (let n = batch(); n > 0; n = batch()) filled += n;
  return filled;
}

type TagRow = { [K in keyof TagDetail]: TagDetail[K] | null };

/** Prepares the statements once; each query is one statement. */
export function prepareBrowse(db: Db) {
  // LEFT JOIN from the repository: no row at all means no repository, one row of NULLs means no tags.
  const tags = db.prepare<[string], TagRow>(
    `SELECT t.name, t.digest, t.updated_at AS "pushedAt", m.media_type AS "mediaType",
       m.artifact_type AS "artifactType", m.last_pulled_at AS "pulledAt"
     FROM repositories r LEFT JOIN tags t ON t.repo_id = r.id
     LEFT JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest
     WHERE r.name = ?`,
  );
  // Arrays, not objects: this is every tag of a repository (10,000s), and better-sqlite3's rows cost more.
  const list = db
    .prepare<
      [string],
      [string | null, Digest | null, number | null]
    >(`SELECT t.name, t.digest, t.updated_at FROM repositories r LEFT JOIN tags t ON t.repo_id = r.id WHERE r.name = ?`)
    .raw(true);
  // CROSS JOIN fixes the join order: the asked digests first, then their rows by primary key (left to
  // itself SQLite walked every manifest and reference of the repository, O(repository) for a page of 100).
  const sizes = db.prepare<[string, string], ManifestSize>(
    `WITH r AS (SELECT id FROM repositories WHERE name = ?),
     asked AS (SELECT DISTINCT value AS digest FROM json_each(?)),
     wanted AS (
       SELECT a.digest, NULL AS parent FROM asked a
       UNION SELECT f.ref_digest, f.manifest_digest FROM asked a CROSS JOIN manifest_refs f
         ON f.repo_id = (SELECT id FROM r) AND f.manifest_digest = a.digest AND f.kind = 'manifest'
     )
     SELECT w.digest, w.parent, m.media_type AS "mediaType", m.artifact_type AS "artifactType", m.size,
       m.last_pulled_at AS "pulledAt",
       (SELECT COALESCE(SUM(b.size), 0) FROM manifest_refs f JOIN blobs b ON b.digest = f.ref_digest
        WHERE f.repo_id = m.repo_id AND f.manifest_digest = m.digest AND f.kind = 'blob') AS "blobBytes"
     FROM wanted w CROSS JOIN manifests m ON m.repo_id = (SELECT id FROM r) AND m.digest = w.digest`,
  );
  // One prepared statement per shape (order, direction, filter kind, cursor), made on first use.
  const pages = new Map<string, Stmt<[Record<string, unknown>], TagPageRow>>();
  return {
    tagPage(repo: string, query: TagPageQuery): TagPage | null {
      const { shape, params } = tagPageParams('sqlite', repo, query);
      const id = JSON.stringify(shape);
      let stmt = pages.get(id);
      if (stmt === undefined) pages.set(id, (stmt = db.prepare(tagPageSql('sqlite', shape))));
      return tagPageFrom(stmt.all(params), query.limit);
    },
    tagDetails(repo: string): TagDetail[] | null {
      const rows = tags.all(repo);
      if (rows.length === 0) return null;
      return rows.filter((r) => r.name !== null) as TagDetail[];
    },
    tagList(repo: string): TagEntry[] | null {
      const rows = list.all(repo);
      if (rows.length === 0) return null;
      const out: TagEntry[] = [];
      for (const [name, digest, pushedAt] of rows)
        if (name !== null) out.push({ name, digest: digest!, pushedAt: pushedAt! });
      return out;
    },
    sizes(repo: string, digests: Digest[]): ManifestSize[] {
      return digests.length === 0 ? [] : sizes.all(repo, JSON.stringify(digests));
    },
  };
}
