/** The scan pull policy (`scan.policy`): manifests with findings at or above a severity are not served. */
import type { ManifestRecord, ScanTable } from '../../metadata/types.js';
import type { Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { parseManifest } from '../../oci/manifest.js';
import { isIndexMediaType } from '../../oci/mediatypes.js';
import type { Registry } from '../../registry/registry.js';
import { matchesAny } from '../../registry/retention.js';
import { SEVERITIES, type SeverityLevel } from '../severity.js';

/** One rule as configured. */
export interface ScanRule {
  repositories: string[];
  blockSeverity: Exclude<SeverityLevel, 'UNKNOWN'>;
  onUnscanned: 'allow' | 'deny';
}

/** Findings at or above `level` in a stored summary (counts per severity). */
export function countAtLeast(summary: string | null, level: SeverityLevel): number {
  const counts = summary ? (JSON.parse(summary) as Partial<Record<SeverityLevel, number>>) : {};
  const floor = SEVERITIES.indexOf(level);
  return SEVERITIES.filter((s) => SEVERITIES.indexOf(s) >= floor).reduce((n, s) => n + (counts[s] ?? 0), 0);
}

export class ScanPolicy {
  constructor(
    private readonly registry: Registry,
    private readonly table: ScanTable,
    private readonly rules: readonly ScanRule[],
  ) {}

  covers(repo: string): boolean {
    return this.rules.some((r) => matchesAny(r.repositories, repo));
  }

  /** Throws 403 DENIED when the manifest (an index: any child) has blocking findings, or is unscanned under deny. */
  async check(repo: string, record: ManifestRecord): Promise<void> {
    const rule = this.rules.find((r) => matchesAny(r.repositories, repo));
    if (!rule) return;
    const digests = isIndexMediaType(record.mediaType) ? await this.children(record) : [record.digest];
    const rows = new Map((await this.table.getMany(digests)).map((r) => [r.digest, r]));
    let blocking = 0;
    const unscanned: Digest[] = [];
    for (const d of digests) {
      const row = rows.get(d);
      if (!row || row.state === 'pending' || row.state === 'failed') unscanned.push(d);
      else if (row.state === 'done') blocking += countAtLeast(row.summary, rule.blockSeverity);
    }
    const where = `scan.policy rule ${rule.repositories.join(', ')}`;
    const see = `see them with GET /admin/v1/scans/${repo}/${record.digest} or ` + `kura scan ${repo}@${record.digest}`;
    if (blocking > 0)
      throw new OciError(
        'DENIED',
        `${repo}@${record.digest} has ${blocking} finding${blocking === 1 ? '' : 's'} at or above ` +
          `${rule.blockSeverity} (${where}); ${see}`,
        { repository: repo, digest: record.digest, findings: blocking, blockSeverity: rule.blockSeverity },
      );
    if (unscanned.length > 0 && rule.onUnscanned === 'deny')
      throw new OciError(
        'DENIED',
        `${repo}@${record.digest} has not been scanned yet (${where}, onUnscanned: deny); ` +
          `retry when its scan is done (GET /admin/v1/scans/${repo}/${record.digest})`,
        { repository: repo, digest: record.digest, unscanned },
      );
  }

  private async children(record: ManifestRecord): Promise<Digest[]> {
    const bytes = await this.registry.manifestBytes(record.digest);
    const p = parseManifest(bytes, record.mediaType, { lenientMediaType: true });
    return p.kind === 'index' ? p.manifest.manifests.filter((m) => !m.artifactType).map((m) => m.digest) : [];
  }
}
