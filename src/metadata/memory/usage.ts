// In-memory quota and usage queries over blob links.
import type { Digest } from '../../oci/digest.js';
import { compareBytewise } from '../page.js';
import type { UsageQueries, UsageReport, UsageScope } from '../types.js';
import type { MemoryDb, Repo } from './db.js';

type Usage = { blobs: number; bytes: number };

export class MemoryUsageQueries implements UsageQueries {
  constructor(private readonly db: MemoryDb) {}

  private reposIn(scope: UsageScope): Repo[] {
    const repos = this.db.repos;
    if ('repo' in scope) return repos.has(scope.repo) ? [repos.get(scope.repo)!] : [];
    return [...repos].filter(([n]) => n === scope.namespace || n.startsWith(scope.namespace + '/')).map(([, r]) => r);
  }

  private measure(digests: Iterable<Digest>): Usage {
    let blobs = 0;
    let bytes = 0;
    for (const d of digests) {
      blobs++;
      bytes += this.db.blobs.get(d)?.size ?? 0;
    }
    return { blobs, bytes };
  }

  async ofScope(scope: UsageScope): Promise<Usage> {
    return this.measure(new Set(this.reposIn(scope).flatMap((r) => [...r.blobs])));
  }

  async linkedInScope(scope: UsageScope, digest: Digest): Promise<boolean> {
    return this.reposIn(scope).some((r) => r.blobs.has(digest));
  }

  async report(): Promise<UsageReport> {
    const repos = this.db.repos;
    const names = [...repos.keys()].filter((n) => repos.get(n)!.blobs.size > 0).sort(compareBytewise);
    const repositories = names.map((name) => ({ name, ...this.measure(repos.get(name)!.blobs) }));
    const namespaces = [...new Set(names.map((n) => n.split('/')[0]!))].sort(compareBytewise).map((ns) => {
      const inNs = names.filter((n) => n.split('/')[0] === ns);
      return {
        name: ns,
        ...this.measure(new Set(inNs.flatMap((n) => [...repos.get(n)!.blobs]))),
        sumOfRepositories: repositories.filter((r) => r.name.split('/')[0] === ns).reduce((a, r) => a + r.bytes, 0),
      };
    });
    const live = [...this.db.blobs].filter(([, b]) => b.state === 'live').map(([d]) => d);
    return { repositories, namespaces, total: this.measure(live) };
  }
}
