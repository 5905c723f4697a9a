// In-memory manifests with their references, tags and referrers.
import type { Digest } from '../../oci/digest.js';
import { checkPage, compareBytewise } from '../page.js';
import { tagPageOf, type TagPage, type TagPageQuery } from '../tag-keys.js';
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
import { paginate, type MemoryDb } from './db.js';

/** Records are handed out as copies so callers cannot mutate the store's state. */
function copyRecord(rec: ManifestRecord): ManifestRecord {
  return { ...rec, annotations: rec.annotations === null ? null : { ...rec.annotations } };
}

/** `put` also records the manifest as a blob linked to its repository, in the same synchronous step. */
export class MemoryManifestTable implements ManifestTable {
  /** `repo\0tag` → when the tag was last set. */
  private readonly tagTimes = new Map<string, number>();

  constructor(private readonly db: MemoryDb) {}

  /** When the tag was last set (0 when unknown): the scans table's "most recently pushed tags". */
  tagPushedAt(repo: string, tag: string): number {
    return this.tagTimes.get(`${repo}\0${tag}`) ?? 0;
  }

  async put(
    rec: ManifestRecord,
    refs: ManifestRefs,
    tags: string[],
    fixedTags: string[] = [],
    events?: OutboxEntry[],
  ): Promise<{ missing: Digest[]; refused?: string[] }> {
    const existing = this.db.repos.get(rec.repo);
    // Deduplicate what is reported, not what is checked: a digest can be a linked blob yet not a manifest.
    const missing = new Set<Digest>();
    for (const d of refs.blobs) if (existing?.blobs.has(d) !== true) missing.add(d);
    for (const d of refs.manifests) if (existing?.manifests.has(d) !== true) missing.add(d);
    if (missing.size > 0 && refs.partial !== true) return { missing: [...missing] };
    const refused = fixedTags.filter(
      (t) => tags.includes(t) && existing?.tags.has(t) && existing.tags.get(t) !== rec.digest,
    );
    if (refused.length > 0) return { missing: [], refused };

    const repo = this.db.ensureRepo(rec.repo);
    if (!repo.manifests.has(rec.digest)) {
      repo.manifests.set(rec.digest, {
        rec: copyRecord(rec),
        refs: { blobs: [...refs.blobs], manifests: [...refs.manifests] },
        pulledAt: null,
      });
    }
    this.db.recordBlob(rec.digest, rec.size, 0);
    repo.blobs.add(rec.digest);
    // One time for the tags of one put, as the SQL stores stamp them.
    const now = this.db.now();
    for (const tag of tags) {
      if (!repo.tags.has(tag)) repo.sortedTags.invalidate();
      repo.tags.set(tag, rec.digest);
      this.tagTimes.set(`${rec.repo}\0${tag}`, now);
    }
    this.db.appendEvents(events);
    return { missing: [] };
  }

  async get(repo: string, digest: Digest): Promise<ManifestRecord | null> {
    const m = this.db.repos.get(repo)?.manifests.get(digest);
    return m === undefined ? null : copyRecord(m.rec);
  }

  async resolveTag(repo: string, tag: string): Promise<ManifestRecord | null> {
    const r = this.db.repos.get(repo);
    const digest = r?.tags.get(tag);
    if (r === undefined || digest === undefined) return null;
    const m = r.manifests.get(digest);
    return m === undefined ? null : copyRecord(m.rec);
  }

  async delete(repo: string, digest: Digest, events?: OutboxEntry[]): Promise<boolean> {
    const r = this.db.repos.get(repo);
    if (r === undefined || !r.manifests.delete(digest)) return false;
    this.db.appendEvents(events);
    for (const [tag, d] of r.tags) {
      if (d === digest) {
        r.tags.delete(tag);
        r.sortedTags.invalidate();
      }
    }
    return true;
  }

  async deleteTag(repo: string, tag: string, events?: OutboxEntry[]): Promise<boolean> {
    const r = this.db.repos.get(repo);
    if (r === undefined || !r.tags.delete(tag)) return false;
    this.db.appendEvents(events);
    r.sortedTags.invalidate();
    return true;
  }

  async listTags(repo: string, page: Page): Promise<string[] | null> {
    checkPage(page);
    const r = this.db.repos.get(repo);
    if (r === undefined) return null;
    return paginate(r.sortedTags.get(r.tags.keys()), page);
  }

  async listRepositories(page: Page): Promise<string[]> {
    checkPage(page);
    return paginate(this.db.sortedRepos.get(this.db.repos.keys()), page);
  }

  async listReferrers(
    repo: string,
    subject: Digest,
    artifactType?: string,
    page: Page = {},
  ): Promise<ManifestRecord[]> {
    const r = this.db.repos.get(repo);
    if (r === undefined) return [];
    const out: ManifestRecord[] = [];
    for (const { rec } of r.manifests.values()) {
      if (rec.subject !== subject) continue;
      if (artifactType !== undefined && rec.artifactType !== artifactType) continue;
      if (page.last !== undefined && compareBytewise(rec.digest, page.last) <= 0) continue;
      out.push(copyRecord(rec));
    }
    out.sort((a, b) => compareBytewise(a.digest, b.digest));
    return page.n === undefined ? out : out.slice(0, page.n);
  }

  async recordPulls(pulls: Pull[]): Promise<void> {
    for (const p of pulls) {
      const m = this.db.repos.get(p.repo)?.manifests.get(p.digest);
      if (m) m.pulledAt = Math.max(m.pulledAt ?? 0, p.at);
    }
  }

  async snapshot(repo: string): Promise<RepositorySnapshot | null> {
    const r = this.db.repos.get(repo);
    if (r === undefined) return null;
    const pushedAt = (name: string): number => this.tagTimes.get(`${repo}\0${name}`) ?? 0;
    return {
      repo,
      tags: [...r.tags].map(([name, digest]) => ({ name, digest, pushedAt: pushedAt(name) })),
      manifests: [...r.manifests.values()].map((m) => ({
        digest: m.rec.digest,
        pushedAt: m.rec.createdAt,
        pulledAt: m.pulledAt,
        subject: m.rec.subject,
        artifactType: m.rec.artifactType,
        children: [...m.refs.manifests],
      })),
    };
  }

  async tagDetails(repo: string): Promise<TagDetail[] | null> {
    const r = this.db.repos.get(repo);
    if (r === undefined) return null;
    return [...r.tags].map(([name, digest]) => {
      const m = r.manifests.get(digest)!;
      return {
        name,
        digest,
        pushedAt: this.tagTimes.get(`${repo}\0${name}`) ?? 0,
        mediaType: m.rec.mediaType,
        artifactType: m.rec.artifactType,
        pulledAt: m.pulledAt,
      };
    });
  }

  async tagList(repo: string): Promise<TagEntry[] | null> {
    const r = this.db.repos.get(repo);
    if (r === undefined) return null;
    return [...r.tags].map(([name, digest]) => ({
      name,
      digest,
      pushedAt: this.tagTimes.get(`${repo}\0${name}`) ?? 0,
    }));
  }

  /** Sorted on demand (the memory store keeps no sort keys): the reference page of tag-keys.ts. */
  async tagPage(repo: string, query: TagPageQuery): Promise<TagPage | null> {
    const all = await this.tagList(repo);
    return all === null ? null : tagPageOf(all, query);
  }

  async sizes(repo: string, digests: Digest[]): Promise<ManifestSize[]> {
    const r = this.db.repos.get(repo);
    if (r === undefined) return [];
    const row = (digest: Digest, parent: Digest | null): ManifestSize | null => {
      const m = r.manifests.get(digest);
      if (!m) return null;
      let blobBytes = 0;
      for (const b of new Set(m.refs.blobs)) blobBytes += this.db.blobs.get(b)?.size ?? 0;
      const { mediaType, artifactType, size } = m.rec;
      return { digest, parent, mediaType, artifactType, size, blobBytes, pulledAt: m.pulledAt };
    };
    const out: ManifestSize[] = [];
    for (const d of new Set(digests)) {
      const own = row(d, null);
      if (!own) continue;
      out.push(own);
      for (const c of new Set(r.manifests.get(d)!.refs.manifests)) {
        const child = row(c, d);
        if (child) out.push(child);
      }
    }
    return out;
  }
}
