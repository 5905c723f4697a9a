// SQLite queries of the web UI's listings: tags with their manifests' types and times, manifest sizes.
import type { Digest } from '../../oci/digest.js';
import type { ManifestSize, TagDetail, TagEntry } from '../types.js';
import type { Db } from './db.js';

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
  return {
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
