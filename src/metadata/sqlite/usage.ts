// SQLite quota and usage queries over blob links (reads `repository_blobs`, `repositories`, `blobs`).
import type { Digest } from '../../oci/digest.js';
import type { UsageQueries, UsageReport, UsageRow, UsageScope } from '../types.js';
import type { Db, Stmt } from './db.js';

type Usage = { blobs: number; bytes: number };

export class SqliteUsageQueries implements UsageQueries {
  private readonly usageOfRepo: Stmt<[string], Usage>;
  private readonly usageOfNamespace: Stmt<[{ ns: string; prefix: string }], Usage>;
  private readonly linkedInRepo: Stmt<[string, Digest], number>;
  private readonly linkedInNamespace: Stmt<[{ ns: string; prefix: string; digest: Digest }], number>;
  private readonly reportTx: () => UsageReport;

  constructor(db: Db) {
    // A namespace is its own repository or any below it. A prefix compare, not LIKE: names may
    // contain "_", which LIKE would read as a wildcard.
    const inNamespace = `(r.name = @ns OR substr(r.name, 1, length(@prefix)) = @prefix)`;
    this.usageOfRepo = db.prepare(
      `SELECT COUNT(*) AS blobs, COALESCE(SUM(b.size), 0) AS bytes FROM repository_blobs rb
       JOIN repositories r ON r.id = rb.repo_id JOIN blobs b ON b.digest = rb.digest WHERE r.name = ?`,
    );
    this.usageOfNamespace = db.prepare(
      `SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0) AS bytes FROM (
         SELECT DISTINCT b.digest, b.size FROM repository_blobs rb JOIN repositories r ON r.id = rb.repo_id
         JOIN blobs b ON b.digest = rb.digest WHERE ${inNamespace})`,
    );
    this.linkedInRepo = db
      .prepare<[string, Digest], number>(
        `SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repo_id
         WHERE r.name = ? AND rb.digest = ?`,
      )
      .pluck();
    this.linkedInNamespace = db
      .prepare<[{ ns: string; prefix: string; digest: Digest }], number>(
        `SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repo_id
         WHERE ${inNamespace} AND rb.digest = @digest LIMIT 1`,
      )
      .pluck();
    const ns = `CASE WHEN instr(r.name, '/') > 0 THEN substr(r.name, 1, instr(r.name, '/') - 1) ELSE r.name END`;
    const perRepo = db.prepare<[], UsageRow>(
      `SELECT r.name AS name, COUNT(*) AS blobs, SUM(b.size) AS bytes FROM repository_blobs rb
       JOIN repositories r ON r.id = rb.repo_id JOIN blobs b ON b.digest = rb.digest GROUP BY r.id ORDER BY r.name`,
    );
    const perNamespace = db.prepare<[], UsageRow>(
      `SELECT ns AS name, COUNT(*) AS blobs, SUM(size) AS bytes FROM (
         SELECT DISTINCT ${ns} AS ns, b.digest, b.size FROM repository_blobs rb JOIN repositories r ON r.id = rb.repo_id
         JOIN blobs b ON b.digest = rb.digest) GROUP BY ns ORDER BY ns`,
    );
    const total = db.prepare<[], Usage>(
      `SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0) AS bytes FROM blobs WHERE state = 'live'`,
    );
    this.reportTx = db.read((): UsageReport => {
      const repositories = perRepo.all();
      const sums = new Map<string, number>();
      for (const r of repositories) {
        const n = r.name.split('/')[0]!;
        sums.set(n, (sums.get(n) ?? 0) + r.bytes);
      }
      const namespaces = perNamespace.all().map((n) => ({ ...n, sumOfRepositories: sums.get(n.name) ?? 0 }));
      return { repositories, namespaces, total: total.get()! };
    });
  }

  async ofScope(scope: UsageScope): Promise<Usage> {
    return 'repo' in scope
      ? this.usageOfRepo.get(scope.repo)!
      : this.usageOfNamespace.get({ ns: scope.namespace, prefix: scope.namespace + '/' })!;
  }

  async linkedInScope(scope: UsageScope, digest: Digest): Promise<boolean> {
    const hit =
      'repo' in scope
        ? this.linkedInRepo.get(scope.repo, digest)
        : this.linkedInNamespace.get({ ns: scope.namespace, prefix: scope.namespace + '/', digest });
    return hit !== undefined;
  }

  async report(): Promise<UsageReport> {
    return this.reportTx();
  }
}
