import type { Digest } from '../oci/digest.js';
import type {
  Account,
  AuditEvent,
  BlobState,
  ManifestRecord,
  ManifestRefs,
  MetadataStore,
  Page,
  RepositorySnapshot,
  UploadRecord,
  UsageReport,
  UsageScope,
} from './types.js';

/**
 * Orders strings by their UTF-8 bytes, as SQLite's BINARY collation does. Plain `<` compares UTF-16
 * code units, which puts astral characters (surrogate pairs) before U+E000..U+FFFF; UTF-8 puts them after.
 */
export function compareBytewise(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** Validates a page size; a negative n would mean "unlimited" to SQLite but "drop the tail" to slice. */
export function checkPage(page: Page): void {
  if (page.n !== undefined && !(Number.isInteger(page.n) && page.n >= 0)) {
    throw new RangeError(`page size must be a non-negative integer, got ${page.n}`);
  }
}

/** Applies `last`/`n` to an already sorted list. */
function paginate(sorted: readonly string[], page: Page): string[] {
  let start = 0;
  if (page.last !== undefined) {
    // First index whose value is strictly greater than `last`.
    let hi = sorted.length;
    while (start < hi) {
      const mid = (start + hi) >>> 1;
      if (compareBytewise(sorted[mid]!, page.last) <= 0) start = mid + 1;
      else hi = mid;
    }
  }
  const end = page.n === undefined ? sorted.length : start + page.n;
  return sorted.slice(start, end);
}

/** A sorted view of a set of names, rebuilt lazily after changes so repeated pagination stays cheap. */
class SortedNames {
  private sorted: string[] | null = null;
  invalidate(): void {
    this.sorted = null;
  }
  get(names: Iterable<string>): string[] {
    this.sorted ??= [...names].sort(compareBytewise);
    return this.sorted;
  }
}

interface StoredBlob {
  size: number;
  state: BlobState;
  createdAt: number;
  leasedUntil: number;
}

interface StoredManifest {
  rec: ManifestRecord;
  refs: ManifestRefs;
  pulledAt: number | null;
}

interface Repo {
  blobs: Set<Digest>;
  manifests: Map<Digest, StoredManifest>;
  tags: Map<string, Digest>;
  sortedTags: SortedNames;
}

/** Records are handed out as copies so callers cannot mutate the store's state. */
function copyRecord(rec: ManifestRecord): ManifestRecord {
  return { ...rec, annotations: rec.annotations === null ? null : { ...rec.annotations } };
}

/**
 * In-process metadata for tests and throwaway registries. Every method runs synchronously to
 * completion before its promise settles, which is what makes each one atomic.
 */
export class MemoryMetadataStore implements MetadataStore {
  readonly name = 'memory';
  private readonly repos = new Map<string, Repo>();
  private readonly sortedRepos = new SortedNames();
  private readonly blobs = new Map<Digest, StoredBlob>();
  private readonly uploads = new Map<string, UploadRecord>();
  private readonly audit: AuditEvent[] = [];
  private readonly accounts = new Map<string, Account>();
  /** `repo\0tag` → when the tag was last set. */
  private readonly tagTimes = new Map<string, number>();

  private ensureRepo(name: string): Repo {
    let repo = this.repos.get(name);
    if (repo === undefined) {
      repo = { blobs: new Set(), manifests: new Map(), tags: new Map(), sortedTags: new SortedNames() };
      this.repos.set(name, repo);
      this.sortedRepos.invalidate();
    }
    return repo;
  }

  /** Inserts a blob row if absent; revives it and extends its lease either way. */
  private recordBlob(digest: Digest, size: number, leaseUntil: number): void {
    const b = this.blobs.get(digest);
    if (b === undefined) this.blobs.set(digest, { size, state: 'live', createdAt: Date.now(), leasedUntil: leaseUntil });
    else {
      b.state = 'live';
      b.leasedUntil = Math.max(b.leasedUntil, leaseUntil);
    }
  }

  async addBlob(repo: string, digest: Digest, size: number, leaseUntil = 0): Promise<void> {
    this.recordBlob(digest, size, leaseUntil);
    this.ensureRepo(repo).blobs.add(digest);
  }

  async getBlob(repo: string, digest: Digest): Promise<number | null> {
    if (this.repos.get(repo)?.blobs.has(digest) !== true) return null;
    return this.blobs.get(digest)?.size ?? null;
  }

  async recordedBlobs(digests: Digest[]): Promise<Set<Digest>> {
    return new Set(digests.filter((d) => this.blobs.has(d)));
  }

  async blobRepositories(digest: Digest, limit: number): Promise<string[]> {
    if (this.blobs.get(digest)?.state !== 'live') return [];
    const names = [...this.repos].filter(([, r]) => r.blobs.has(digest)).map(([name]) => name);
    return names.sort().slice(0, limit);
  }

  async getGlobalBlob(digest: Digest): Promise<number | null> {
    return this.blobs.get(digest)?.size ?? null;
  }

  async unlinkBlob(repo: string, digest: Digest): Promise<boolean> {
    return this.repos.get(repo)?.blobs.delete(digest) ?? false;
  }

  async putManifest(
    rec: ManifestRecord,
    refs: ManifestRefs,
    tags: string[],
    fixedTags: string[] = [],
  ): Promise<{ missing: Digest[]; refused?: string[] }> {
    const existing = this.repos.get(rec.repo);
    // Deduplicate what is reported, not what is checked: a digest can be a linked blob yet not a manifest.
    const missing = new Set<Digest>();
    for (const d of refs.blobs) if (existing?.blobs.has(d) !== true) missing.add(d);
    for (const d of refs.manifests) if (existing?.manifests.has(d) !== true) missing.add(d);
    if (missing.size > 0) return { missing: [...missing] };
    const refused = fixedTags.filter((t) => tags.includes(t) && existing?.tags.has(t) && existing.tags.get(t) !== rec.digest);
    if (refused.length > 0) return { missing: [], refused };

    const repo = this.ensureRepo(rec.repo);
    if (!repo.manifests.has(rec.digest)) {
      repo.manifests.set(rec.digest, {
        rec: copyRecord(rec),
        refs: { blobs: [...refs.blobs], manifests: [...refs.manifests] },
        pulledAt: null,
      });
    }
    this.recordBlob(rec.digest, rec.size, 0);
    repo.blobs.add(rec.digest);
    for (const tag of tags) {
      if (!repo.tags.has(tag)) repo.sortedTags.invalidate();
      repo.tags.set(tag, rec.digest);
      this.tagTimes.set(`${rec.repo}\0${tag}`, Date.now());
    }
    return { missing: [] };
  }

  async getManifest(repo: string, digest: Digest): Promise<ManifestRecord | null> {
    const m = this.repos.get(repo)?.manifests.get(digest);
    return m === undefined ? null : copyRecord(m.rec);
  }

  async resolveTag(repo: string, tag: string): Promise<ManifestRecord | null> {
    const r = this.repos.get(repo);
    const digest = r?.tags.get(tag);
    if (r === undefined || digest === undefined) return null;
    const m = r.manifests.get(digest);
    return m === undefined ? null : copyRecord(m.rec);
  }

  async deleteManifest(repo: string, digest: Digest): Promise<boolean> {
    const r = this.repos.get(repo);
    if (r === undefined || !r.manifests.delete(digest)) return false;
    for (const [tag, d] of r.tags) {
      if (d === digest) {
        r.tags.delete(tag);
        r.sortedTags.invalidate();
      }
    }
    return true;
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    const r = this.repos.get(repo);
    if (r === undefined || !r.tags.delete(tag)) return false;
    r.sortedTags.invalidate();
    return true;
  }

  async listTags(repo: string, page: Page): Promise<string[] | null> {
    checkPage(page);
    const r = this.repos.get(repo);
    if (r === undefined) return null;
    return paginate(r.sortedTags.get(r.tags.keys()), page);
  }

  async listRepositories(page: Page): Promise<string[]> {
    checkPage(page);
    return paginate(this.sortedRepos.get(this.repos.keys()), page);
  }

  async listReferrers(repo: string, subject: Digest, artifactType?: string, page: Page = {}): Promise<ManifestRecord[]> {
    const r = this.repos.get(repo);
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

  /** Every digest a manifest (in any repository) is or references. */
  private referenced(): Set<Digest> {
    const out = new Set<Digest>();
    for (const r of this.repos.values()) {
      for (const [d, m] of r.manifests) {
        out.add(d);
        for (const x of m.refs.blobs) out.add(x);
        for (const x of m.refs.manifests) out.add(x);
      }
    }
    return out;
  }

  private candidate(d: Digest, b: StoredBlob | undefined, now: number, cutoff: number, referenced: Set<Digest>): boolean {
    return b !== undefined && b.state === 'live' && b.createdAt < cutoff && b.leasedUntil < now && !referenced.has(d);
  }

  async gcCandidates(now: number, cutoff: number): Promise<Digest[]> {
    const referenced = this.referenced();
    return [...this.blobs]
      .filter(([d, b]) => this.candidate(d, b, now, cutoff, referenced))
      .sort(([da, a], [db, b]) => a.createdAt - b.createdAt || compareBytewise(da, db))
      .map(([d]) => d);
  }

  async gcMark(digests: Digest[], now: number, cutoff: number): Promise<Digest[]> {
    const referenced = this.referenced();
    const marked: Digest[] = [];
    for (const d of digests) {
      const b = this.blobs.get(d);
      if (!this.candidate(d, b, now, cutoff, referenced)) continue;
      b!.state = 'deleting';
      for (const r of this.repos.values()) r.blobs.delete(d);
      marked.push(d);
    }
    return marked;
  }

  async listDeleting(): Promise<Digest[]> {
    return [...this.blobs].filter(([, b]) => b.state === 'deleting').map(([d]) => d).sort(compareBytewise);
  }

  async blobState(digest: Digest): Promise<BlobState | null> {
    return this.blobs.get(digest)?.state ?? null;
  }

  async gcForget(digest: Digest): Promise<boolean> {
    if (this.blobs.get(digest)?.state !== 'deleting') return false;
    this.blobs.delete(digest);
    return true;
  }

  async listBlobs(): Promise<{ digest: Digest; size: number; state: BlobState }[]> {
    return [...this.blobs].map(([digest, b]) => ({ digest, size: b.size, state: b.state })).sort((a, b) => compareBytewise(a.digest, b.digest));
  }

  async dropBlob(digest: Digest): Promise<boolean> {
    for (const r of this.repos.values()) r.blobs.delete(digest);
    return this.blobs.delete(digest);
  }

  async recordPulls(pulls: { repo: string; digest: Digest; at: number }[]): Promise<void> {
    for (const p of pulls) {
      const m = this.repos.get(p.repo)?.manifests.get(p.digest);
      if (m) m.pulledAt = Math.max(m.pulledAt ?? 0, p.at);
    }
  }

  async repositorySnapshot(repo: string): Promise<RepositorySnapshot | null> {
    const r = this.repos.get(repo);
    if (r === undefined) return null;
    return {
      repo,
      tags: [...r.tags].map(([name, digest]) => ({ name, digest, pushedAt: this.tagTimes.get(`${repo}\0${name}`) ?? 0 })),
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

  private reposIn(scope: UsageScope): Repo[] {
    if ('repo' in scope) return this.repos.has(scope.repo) ? [this.repos.get(scope.repo)!] : [];
    return [...this.repos].filter(([n]) => n === scope.namespace || n.startsWith(scope.namespace + '/')).map(([, r]) => r);
  }

  private measure(digests: Iterable<Digest>): { blobs: number; bytes: number } {
    let blobs = 0;
    let bytes = 0;
    for (const d of digests) {
      blobs++;
      bytes += this.blobs.get(d)?.size ?? 0;
    }
    return { blobs, bytes };
  }

  async scopeUsage(scope: UsageScope): Promise<{ blobs: number; bytes: number }> {
    return this.measure(new Set(this.reposIn(scope).flatMap((r) => [...r.blobs])));
  }

  async linkedInScope(scope: UsageScope, digest: Digest): Promise<boolean> {
    return this.reposIn(scope).some((r) => r.blobs.has(digest));
  }

  async usageReport(): Promise<UsageReport> {
    const names = [...this.repos.keys()].filter((n) => this.repos.get(n)!.blobs.size > 0).sort(compareBytewise);
    const repositories = names.map((name) => ({ name, ...this.measure(this.repos.get(name)!.blobs) }));
    const namespaces = [...new Set(names.map((n) => n.split('/')[0]!))].sort(compareBytewise).map((ns) => ({
      name: ns,
      ...this.measure(new Set(names.filter((n) => n.split('/')[0] === ns).flatMap((n) => [...this.repos.get(n)!.blobs]))),
      sumOfRepositories: repositories.filter((r) => r.name.split('/')[0] === ns).reduce((a, r) => a + r.bytes, 0),
    }));
    return { repositories, namespaces, total: this.measure([...this.blobs].filter(([, b]) => b.state === 'live').map(([d]) => d)) };
  }

  async putAccount(a: Account): Promise<void> {
    const old = this.accounts.get(a.name);
    this.accounts.set(a.name, structuredClone({ ...a, createdAt: old?.createdAt ?? a.createdAt }));
  }

  async getAccount(name: string): Promise<Account | null> {
    const a = this.accounts.get(name);
    return a ? structuredClone(a) : null;
  }

  async deleteAccount(name: string): Promise<boolean> {
    return this.accounts.delete(name);
  }

  async listAccounts(): Promise<Account[]> {
    return [...this.accounts.values()].sort((x, y) => compareBytewise(x.name, y.name)).map((a) => structuredClone(a));
  }

  async appendAudit(events: AuditEvent[]): Promise<void> {
    this.audit.push(...events.map((e) => ({ ...e })));
  }

  async purgeAudit(before: number): Promise<number> {
    const keep = this.audit.filter((e) => e.at >= before);
    const n = this.audit.length - keep.length;
    this.audit.splice(0, this.audit.length, ...keep);
    return n;
  }

  async listAudit(q: { since?: number; actor?: string; repository?: string; limit: number }): Promise<AuditEvent[]> {
    return this.audit
      .map((e, i) => ({ e, i }))
      .filter(({ e }) => e.at >= (q.since ?? 0) && (q.actor === undefined || e.actor === q.actor) && (q.repository === undefined || e.repository === q.repository))
      .sort((a, b) => b.e.at - a.e.at || b.i - a.i)
      .slice(0, q.limit)
      .map(({ e }) => ({ ...e }));
  }

  async createUpload(rec: UploadRecord): Promise<void> {
    // Matches the SQL primary key: a reused id is a caller bug, not an overwrite.
    if (this.uploads.has(rec.id)) throw new Error(`upload ${rec.id} already exists`);
    this.uploads.set(rec.id, { ...rec, owner: rec.owner ?? null });
  }

  async countUploads(owner: string): Promise<number> {
    let n = 0;
    for (const u of this.uploads.values()) if (u.owner === owner) n++;
    return n;
  }

  async getUpload(id: string): Promise<UploadRecord | null> {
    const u = this.uploads.get(id);
    return u === undefined ? null : { ...u };
  }

  async updateUpload(id: string, offset: number, updatedAt: number): Promise<boolean> {
    const u = this.uploads.get(id);
    if (u === undefined) return false;
    u.offset = offset;
    u.updatedAt = updatedAt;
    return true;
  }

  async deleteUpload(id: string): Promise<boolean> {
    return this.uploads.delete(id);
  }

  async listStaleUploads(before: number): Promise<UploadRecord[]> {
    const out: UploadRecord[] = [];
    for (const u of this.uploads.values()) if (u.updatedAt < before) out.push({ ...u });
    return out.sort((a, b) => a.updatedAt - b.updatedAt || compareBytewise(a.id, b.id));
  }

  async close(): Promise<void> {}
}
