/**
 * Storage quotas per repository or namespace, checked and linked under one lock per scope: across replicas
 * when the store has shared locks (PostgreSQL advisory locks), so two replicas cannot both fit the last bytes.
 */
import type { UsageReport, UsageScope } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { RegistryCore } from './core.js';
import { locksFor, type Locks } from './lock.js';
import { matchesAny } from './retention.js';

export class QuotaService {
  /** Serialises quota check + link per scope, so two uploads cannot both fit the last free bytes. */
  private readonly lock: Locks;

  constructor(private readonly core: RegistryCore) {
    this.lock = locksFor(core.meta.locks, 'quota');
  }

  /** The quota scopes a repository falls in, with their limits. */
  scopes(repo: string): { key: string; scope: UsageScope; limitBytes: number }[] {
    const out: { key: string; scope: UsageScope; limitBytes: number }[] = [];
    const ns = repo.split('/')[0]!;
    for (const q of this.core.options.quotas ?? []) {
      if (q.repositories && matchesAny(q.repositories, repo)) {
        out.push({ key: `repo:${repo}`, scope: { repo }, limitBytes: q.limitBytes });
      }
      if (q.namespaces && matchesAny(q.namespaces, ns)) {
        out.push({ key: `ns:${ns}`, scope: { namespace: ns }, limitBytes: q.limitBytes });
      }
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.limitBytes - b.limitBytes));
  }

  /**
   * Runs `link` (which links `digest` of `size` bytes to `repo`) only if no quota over `repo` would be
   * exceeded. A blob already in a scope costs that scope nothing: shared layers count once.
   */
  async within<T>(repo: string, digest: Digest, size: number, link: () => Promise<T>): Promise<T> {
    const scopes = this.scopes(repo);
    if (scopes.length === 0) return link();
    const meta = this.core.meta;
    const check = async (): Promise<T> => {
      for (const { scope, limitBytes } of scopes) {
        if (await meta.usage.linkedInScope(scope, digest)) continue;
        const used = (await meta.usage.ofScope(scope)).bytes;
        if (used + size > limitBytes) {
          const what = 'repo' in scope ? `repository ${scope.repo}` : `namespace ${scope.namespace}`;
          throw new OciError(
            'DENIED',
            `storage quota of ${what} exceeded: ${used} of ${limitBytes} bytes used, ${digest} needs ${size} more; ` +
              'delete images (then wait for garbage collection) or raise the quota',
            { scope, used, limit: limitBytes, needed: size },
          );
        }
      }
      return link();
    };
    // Every scope's lock, in key order (so two writers never wait for each other), around check and link.
    const keys = [...new Set(scopes.map((s) => s.key))];
    const locked = (i: number): Promise<T> =>
      i === keys.length ? check() : this.lock.run(keys[i]!, () => locked(i + 1));
    return locked(0);
  }

  async usageReport(): Promise<UsageReport> {
    return this.core.meta.usage.report();
  }
}
