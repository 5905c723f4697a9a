// In-memory vulnerability scans of pushed manifests.
import type { Digest } from '../../oci/digest.js';
import type { RepositoryScan, ScanCounts, ScanRecord, ScanTable } from '../types.js';
import { compareBytewise } from '../page.js';
import { checkRecentTags } from '../scan-types.js';
import type { MemoryDb } from './db.js';

const byAge = (a: ScanRecord, b: ScanRecord) => a.updatedAt - b.updatedAt || (a.digest < b.digest ? -1 : 1);

export class MemoryScanTable implements ScanTable {
  private readonly rows = new Map<Digest, ScanRecord>();

  /** `db`: the tags and index children that repositoryScans follows; `pushedAt`: when a tag was last set. */
  constructor(
    private readonly db: MemoryDb,
    private readonly pushedAt: (repo: string, tag: string) => number,
  ) {}

  async enqueue(digest: Digest, repository: string, now: number): Promise<boolean> {
    if (this.rows.has(digest)) return false;
    const rec: ScanRecord = {
      digest,
      repository,
      state: 'pending',
      generation: null,
      packages: null,
      report: null,
      summary: null,
      error: null,
      updatedAt: now,
    };
    this.rows.set(digest, rec);
    return true;
  }

  async get(digest: Digest): Promise<ScanRecord | null> {
    const r = this.rows.get(digest);
    return r ? { ...r } : null;
  }

  async getMany(digests: Digest[]): Promise<ScanRecord[]> {
    const out = [...new Set(digests)].flatMap((d) => (this.rows.has(d) ? [{ ...this.rows.get(d)! }] : []));
    return out.sort((a, b) => (a.digest < b.digest ? -1 : 1));
  }

  async summaries(digests: Digest[]): Promise<ScanCounts[]> {
    return (await this.getMany(digests)).map(({ digest, state, summary }) => ({ digest, state, summary }));
  }

  async repositoryScans(repositories: string[], recentTags: number): Promise<RepositoryScan[]> {
    checkRecentTags(recentTags);
    const out: RepositoryScan[] = [];
    for (const repository of [...new Set(repositories)].sort()) {
      const repo = this.db.repos.get(repository);
      if (!repo) continue;
      const at = (name: string) => this.pushedAt(repository, name);
      const newest = [...repo.tags.keys()].sort((p, q) => at(q) - at(p) || compareBytewise(q, p)).slice(0, recentTags);
      const reached = new Set<Digest>();
      for (const d of newest.map((name) => repo.tags.get(name)!)) {
        reached.add(d);
        for (const c of repo.manifests.get(d)?.refs.manifests ?? []) reached.add(c);
      }
      for (const d of [...reached].sort()) {
        const r = this.rows.get(d);
        if (r) out.push({ repository, digest: d, state: r.state, summary: r.summary });
      }
    }
    return out;
  }

  async pending(limit: number): Promise<ScanRecord[]> {
    const all = [...this.rows.values()].filter((r) => r.state === 'pending');
    return all
      .sort(byAge)
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  async stale(generation: string, limit: number): Promise<ScanRecord[]> {
    const all = [...this.rows.values()].filter((r) => r.state === 'done' && r.generation !== generation);
    return all
      .sort(byAge)
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  async save(rec: ScanRecord): Promise<void> {
    this.rows.set(rec.digest, { ...rec });
  }
}
