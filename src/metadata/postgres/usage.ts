// PostgreSQL quota and usage queries (read-only over `repositories`, `repository_blobs`, `blobs`).
import type { Digest } from '../../oci/digest.js';
import type { UsageQueries, UsageReport, UsageRow, UsageScope } from '../types.js';
import type { Db } from './db.js';

type Usage = { blobs: number; bytes: number };

// A namespace is its own repository or any below it. A prefix compare, not LIKE: names may contain "_".
const IN_NAMESPACE = `(r.name = $1 OR left(r.name, length($2)) = $2)`;
const NAMESPACE_OF = `CASE WHEN strpos(r.name, '/') > 0 THEN left(r.name, strpos(r.name, '/') - 1) ELSE r.name END`;

function nsParams(namespace: string): [string, string] {
  return [namespace, namespace + '/'];
}

export class PgUsageQueries implements UsageQueries {
  constructor(private readonly db: Db) {}

  async ofScope(scope: UsageScope): Promise<Usage> {
    if ('repo' in scope) {
      return (await this.db.one<Usage>(
        `SELECT COUNT(*) AS blobs, COALESCE(SUM(b.size), 0) AS bytes FROM repository_blobs rb
         JOIN repositories r ON r.id = rb.repo_id JOIN blobs b ON b.digest = rb.digest WHERE r.name = $1`,
        [scope.repo],
      ))!;
    }
    return (await this.db.one<Usage>(
      `SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0) AS bytes FROM (
         SELECT DISTINCT b.digest, b.size FROM repository_blobs rb JOIN repositories r ON r.id = rb.repo_id
         JOIN blobs b ON b.digest = rb.digest WHERE ${IN_NAMESPACE}) d`,
      nsParams(scope.namespace),
    ))!;
  }

  async linkedInScope(scope: UsageScope, digest: Digest): Promise<boolean> {
    const row =
      'repo' in scope
        ? await this.db.one(
            `SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repo_id
             WHERE r.name = $1 AND rb.digest = $2`,
            [scope.repo, digest],
          )
        : await this.db.one(
            `SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repo_id
             WHERE ${IN_NAMESPACE} AND rb.digest = $3 LIMIT 1`,
            [...nsParams(scope.namespace), digest],
          );
    return row !== undefined;
  }

  /** One snapshot (a read transaction), so the three parts agree. */
  async report(): Promise<UsageReport> {
    return this.db.tx(async (q) => {
      const repositories = await q.rows<UsageRow>(
        `SELECT r.name AS name, COUNT(*) AS blobs, SUM(b.size) AS bytes FROM repository_blobs rb
         JOIN repositories r ON r.id = rb.repo_id JOIN blobs b ON b.digest = rb.digest GROUP BY r.id ORDER BY r.name`,
      );
      const perNamespace = await q.rows<UsageRow>(
        `SELECT ns AS name, COUNT(*) AS blobs, SUM(size) AS bytes FROM (
           SELECT DISTINCT (${NAMESPACE_OF}) COLLATE "C" AS ns, b.digest, b.size FROM repository_blobs rb
           JOIN repositories r ON r.id = rb.repo_id JOIN blobs b ON b.digest = rb.digest) d GROUP BY ns ORDER BY ns`,
      );
      const total = (await q.one<Usage>(
        `SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0) AS bytes FROM blobs WHERE state = 'live'`,
      ))!;
      const sums = new Map<string, number>();
      for (const r of repositories) {
        const n = r.name.split('/')[0]!;
        sums.set(n, (sums.get(n) ?? 0) + r.bytes);
      }
      const namespaces = perNamespace.map((n) => ({ ...n, sumOfRepositories: sums.get(n.name) ?? 0 }));
      return { repositories, namespaces, total };
    }, 'read');
  }
}
