// SQLite manifests with their references, tags and referrers (tables `manifests`, `manifest_refs`, `tags`).
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
import { prepareBrowse } from './browse.js';
import type { SqliteBlobTable } from './blobs.js';
import type { SqliteEventOutbox } from './events.js';
import { NO_LAST, NO_LIMIT, type Db, type Stmt } from './db.js';

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
type ManifestInsert = [number, Digest, string, number, string | null, Digest | null, string | null, number];

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

type SnapManifest = Omit<RepositorySnapshot['manifests'][number], 'children'>;

/** Prepares the snapshot's statements once; the returned function reads them in one read transaction. */
function prepareSnapshot(db: Db): (repo: string) => RepositorySnapshot | null {
  const snapTags = db.prepare<[number], { name: string; digest: Digest; pushedAt: number }>(
    'SELECT name, digest, updated_at AS pushedAt FROM tags WHERE repo_id = ? ORDER BY name',
  );
  const snapManifests = db.prepare<[number], SnapManifest>(
    `SELECT digest, created_at AS pushedAt, last_pulled_at AS pulledAt, subject, artifact_type AS artifactType
     FROM manifests WHERE repo_id = ? ORDER BY digest`,
  );
  const snapChildren = db.prepare<[number], { parent: Digest; child: Digest }>(
    `SELECT manifest_digest AS parent, ref_digest AS child FROM manifest_refs
     WHERE repo_id = ? AND kind = 'manifest'`,
  );
  return db.read((repo: string): RepositorySnapshot | null => {
    const id = db.repoId(repo);
    if (id === undefined) return null;
    const children = new Map<Digest, Digest[]>();
    for (const { parent, child } of snapChildren.all(id)) {
      children.set(parent, [...(children.get(parent) ?? []), child]);
    }
    const manifests = snapManifests.all(id).map((m) => ({ ...m, children: children.get(m.digest) ?? [] }));
    return { repo, tags: snapTags.all(id), manifests };
  });
}

/** `put` writes manifests, refs and tags and records the manifest as a blob, in one transaction. */
export class SqliteManifestTable implements ManifestTable {
  private readonly hasManifest: Stmt<[number, Digest], number>;
  private readonly selectTagDigest: Stmt<[number, string], Digest>;
  private readonly insertManifest: Stmt<ManifestInsert>;
  private readonly insertRef: Stmt<[number, Digest, Digest, 'blob' | 'manifest']>;
  private readonly upsertTag: Stmt<[number, string, Digest, number, string, string]>;
  private readonly selectManifest: Stmt<[string, Digest], ManifestRow>;
  private readonly selectTagged: Stmt<[string, string], ManifestRow>;
  private readonly deleteTagsOf: Stmt<[number, Digest]>;
  private readonly deleteRefsOf: Stmt<[number, Digest]>;
  private readonly deleteManifestRow: Stmt<[number, Digest]>;
  private readonly deleteTagRow: Stmt<[string, string]>;
  private readonly selectTags: Stmt<[number, string, number], string>;
  private readonly selectRepos: Stmt<[string, number], string>;
  private readonly selectReferrers: Stmt<[string, Digest, string, number], ManifestRow>;
  private readonly selectReferrersOfType: Stmt<[string, Digest, string, string, number], ManifestRow>;
  private readonly updatePull: Stmt<[number, string, Digest]>;
  private readonly putTx: (
    rec: ManifestRecord,
    refs: ManifestRefs,
    tags: string[],
    fixed: string[],
    events?: OutboxEntry[],
  ) => PutResult;
  private readonly deleteTx: (repo: string, digest: Digest, events?: OutboxEntry[]) => boolean;
  private readonly deleteTagTx: (repo: string, tag: string, events: OutboxEntry[]) => boolean;
  private readonly listTagsTx: (repo: string, last: string, limit: number) => string[] | null;
  private readonly recordPullsTx: (pulls: Pull[]) => void;
  private readonly snapshotTx: (repo: string) => RepositorySnapshot | null;
  private readonly browse: ReturnType<typeof prepareBrowse>;

  constructor(
    private readonly db: Db,
    private readonly blobs: SqliteBlobTable,
    private readonly events: SqliteEventOutbox,
  ) {
    this.hasManifest = db
      .prepare<[number, Digest], number>('SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?')
      .pluck();
    this.selectTagDigest = db
      .prepare<[number, string], Digest>('SELECT digest FROM tags WHERE repo_id = ? AND name = ?')
      .pluck();
    this.insertManifest = db.prepare(
      `INSERT INTO manifests (repo_id, digest, media_type, size, artifact_type, subject, annotations, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo_id, digest) DO NOTHING`,
    );
    this.insertRef = db.prepare(
      `INSERT INTO manifest_refs (repo_id, manifest_digest, ref_digest, kind) VALUES (?, ?, ?, ?)
       ON CONFLICT (repo_id, manifest_digest, ref_digest, kind) DO NOTHING`,
    );
    this.upsertTag = db.prepare(
      `INSERT INTO tags (repo_id, name, digest, updated_at, natural_key, semver_key) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at,
         natural_key = excluded.natural_key, semver_key = excluded.semver_key`,
    );
    this.selectManifest = db.prepare(
      `SELECT ${MANIFEST_COLUMNS} FROM repositories r JOIN manifests m ON m.repo_id = r.id
       WHERE r.name = ? AND m.digest = ?`,
    );
    this.selectTagged = db.prepare(
      `SELECT ${MANIFEST_COLUMNS} FROM repositories r
       JOIN tags t ON t.repo_id = r.id
       JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest
       WHERE r.name = ? AND t.name = ?`,
    );
    this.deleteTagsOf = db.prepare('DELETE FROM tags WHERE repo_id = ? AND digest = ?');
    this.deleteRefsOf = db.prepare('DELETE FROM manifest_refs WHERE repo_id = ? AND manifest_digest = ?');
    this.deleteManifestRow = db.prepare('DELETE FROM manifests WHERE repo_id = ? AND digest = ?');
    this.deleteTagRow = db.prepare(
      'DELETE FROM tags WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND name = ?',
    );
    this.selectTags = db
      .prepare<
        [number, string, number],
        string
      >('SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?')
      .pluck();
    this.selectRepos = db
      .prepare<[string, number], string>('SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?')
      .pluck();
    const referrers = `SELECT ${MANIFEST_COLUMNS} FROM repositories r JOIN manifests m ON m.repo_id = r.id
       WHERE r.name = ? AND m.subject = ?`;
    this.selectReferrers = db.prepare(`${referrers} AND m.digest > ? ORDER BY m.digest LIMIT ?`);
    this.selectReferrersOfType = db.prepare(
      `${referrers} AND m.artifact_type = ? AND m.digest > ? ORDER BY m.digest LIMIT ?`,
    );
    this.updatePull = db.prepare(
      `UPDATE manifests SET last_pulled_at = MAX(COALESCE(last_pulled_at, 0), ?)
       WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?`,
    );

    this.putTx = db.write((rec, refs, tags, fixed, events) => {
      const result = this.putNow(rec, refs, tags, fixed);
      if (result.missing.length === 0 && !result.refused) this.events.write(events, db.now());
      return result;
    });
    this.deleteTx = db.write((repo: string, digest: Digest, events?: OutboxEntry[]): boolean => {
      const repoId = db.repoId(repo);
      if (repoId === undefined) return false;
      // Children first: tags and refs hold foreign keys to the manifest row.
      this.deleteTagsOf.run(repoId, digest);
      this.deleteRefsOf.run(repoId, digest);
      const done = this.deleteManifestRow.run(repoId, digest).changes > 0;
      if (done) this.events.write(events, db.now());
      return done;
    });
    this.deleteTagTx = db.write((repo: string, tag: string, events: OutboxEntry[]): boolean => {
      const done = this.deleteTagRow.run(repo, tag).changes > 0;
      if (done) this.events.write(events, db.now());
      return done;
    });
    // A read transaction so the existence check and the listing see one snapshot.
    this.listTagsTx = db.read((repo: string, last: string, limit: number): string[] | null => {
      const repoId = db.repoId(repo);
      return repoId === undefined ? null : this.selectTags.all(repoId, last, limit);
    });
    this.recordPullsTx = db.write((pulls: Pull[]) => {
      for (const p of pulls) this.updatePull.run(p.at, p.repo, p.digest);
    });
    this.snapshotTx = prepareSnapshot(db);
    this.browse = prepareBrowse(db);
  }

  /** The body of `put`; runs inside its write transaction. */
  private putNow(rec: ManifestRecord, refs: ManifestRefs, tags: string[], fixedTags: string[]): PutResult {
    const existing = this.db.repoId(rec.repo);
    // Deduplicate what is reported, not what is checked: a digest can be a linked blob yet not a manifest.
    const missing = new Set<Digest>();
    for (const d of refs.blobs) {
      if (existing === undefined || !this.blobs.linked(existing, d)) missing.add(d);
    }
    for (const d of refs.manifests) {
      if (existing === undefined || this.hasManifest.get(existing, d) === undefined) missing.add(d);
    }
    if (missing.size > 0 && refs.partial !== true) return { missing: [...missing] };
    const refused =
      existing === undefined
        ? []
        : fixedTags.filter((t) => {
            if (!tags.includes(t)) return false;
            const current = this.selectTagDigest.get(existing, t);
            return current !== undefined && current !== rec.digest;
          });
    if (refused.length > 0) return { missing: [], refused };

    const now = this.db.now();
    const repoId = existing ?? this.db.ensureRepo(rec.repo, now);
    const annotations = rec.annotations === null ? null : JSON.stringify(rec.annotations);
    this.insertManifest.run(
      repoId,
      rec.digest,
      rec.mediaType,
      rec.size,
      rec.artifactType,
      rec.subject,
      annotations,
      rec.createdAt,
    );
    for (const d of refs.blobs) this.insertRef.run(repoId, rec.digest, d, 'blob');
    for (const d of refs.manifests) this.insertRef.run(repoId, rec.digest, d, 'manifest');
    this.blobs.record(repoId, rec.digest, rec.size, 0, now);
    for (const tag of tags) this.upsertTag.run(repoId, tag, rec.digest, now, naturalKey(tag), semverKey(tag));
    return { missing: [] };
  }

  async put(
    rec: ManifestRecord,
    refs: ManifestRefs,
    tags: string[],
    fixedTags: string[] = [],
    events?: OutboxEntry[],
  ): Promise<PutResult> {
    return this.putTx(rec, refs, tags, fixedTags, events);
  }

  async get(repo: string, digest: Digest): Promise<ManifestRecord | null> {
    const row = this.selectManifest.get(repo, digest);
    return row === undefined ? null : toRecord(repo, row);
  }

  async resolveTag(repo: string, tag: string): Promise<ManifestRecord | null> {
    const row = this.selectTagged.get(repo, tag);
    return row === undefined ? null : toRecord(repo, row);
  }

  async delete(repo: string, digest: Digest, events?: OutboxEntry[]): Promise<boolean> {
    return this.deleteTx(repo, digest, events);
  }

  async deleteTag(repo: string, tag: string, events?: OutboxEntry[]): Promise<boolean> {
    if (events?.length) return this.deleteTagTx(repo, tag, events);
    return this.deleteTagRow.run(repo, tag).changes > 0;
  }

  async listTags(repo: string, page: Page): Promise<string[] | null> {
    checkPage(page);
    return this.listTagsTx(repo, page.last ?? NO_LAST, page.n ?? NO_LIMIT);
  }

  async listRepositories(page: Page): Promise<string[]> {
    checkPage(page);
    return this.selectRepos.all(page.last ?? NO_LAST, page.n ?? NO_LIMIT);
  }

  async listReferrers(
    repo: string,
    subject: Digest,
    artifactType?: string,
    page: Page = {},
  ): Promise<ManifestRecord[]> {
    const last = page.last ?? NO_LAST;
    const n = page.n ?? NO_LIMIT;
    const rows =
      artifactType === undefined
        ? this.selectReferrers.all(repo, subject, last, n)
        : this.selectReferrersOfType.all(repo, subject, artifactType, last, n);
    return rows.map((row) => toRecord(repo, row));
  }

  async recordPulls(pulls: Pull[]): Promise<void> {
    if (pulls.length > 0) this.recordPullsTx(pulls);
  }

  async snapshot(repo: string): Promise<RepositorySnapshot | null> {
    return this.snapshotTx(repo);
  }

  async tagDetails(repo: string): Promise<TagDetail[] | null> {
    return this.browse.tagDetails(repo);
  }

  async tagList(repo: string): Promise<TagEntry[] | null> {
    return this.browse.tagList(repo);
  }

  async tagPage(repo: string, query: TagPageQuery): Promise<TagPage | null> {
    return this.browse.tagPage(repo, query);
  }

  async sizes(repo: string, digests: Digest[]): Promise<ManifestSize[]> {
    return this.browse.sizes(repo, digests);
  }
}
