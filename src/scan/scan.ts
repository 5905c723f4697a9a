/**
 * A scan from packages to a report: match, then the ignore file, OpenVEX statements, --ignore-unfixed and
 * --severity, in that order.
 */
import type { Sbom } from '../sbom/model.js';
import type { AdvisoryDb } from './db.js';
import { applyIgnores, type IgnoreRule } from './ignore.js';
import { matchSbom } from './match.js';
import { applyVex, type VexStatement } from './openvex.js';
import type { Report } from './report.js';
import { SEVERITIES, type SeverityLevel } from './severity.js';

export interface ScanOptions {
  severities?: SeverityLevel[];
  ignoreUnfixed?: boolean;
  ignores?: IgnoreRule[];
  /** OpenVEX statements (from --vex, or an ignore file that is an OpenVEX document). */
  vex?: VexStatement[];
  now?: Date;
}

/** `LOW,MEDIUM` → levels; an unknown name throws listing the known ones. */
export function parseSeverityList(list: string): SeverityLevel[] {
  const out = list.split(',').map((s) => s.trim().toUpperCase());
  for (const s of out)
    if (!(SEVERITIES as readonly string[]).includes(s))
      throw new Error(`--severity: "${s}" is not a severity; use ${SEVERITIES.join(',')}`);
  return out as SeverityLevel[];
}

/** Scans an SBOM's packages against the database and builds the report (the target's name and tool version given). */
export function scanSbom(
  sbom: Pick<Sbom, 'packages' | 'distro'>,
  db: AdvisoryDb,
  target: Report['target'],
  opts: ScanOptions & { toolVersion: string },
): Report & { warnings: string[] } {
  const m = matchSbom(sbom, db);
  const ignored = applyIgnores(m.findings, opts.ignores ?? [], opts.now ?? new Date());
  const vexed = applyVex(ignored.kept, opts.vex ?? [], target);
  const suppressed = [...ignored.suppressed, ...vexed.suppressed];
  const findings = vexed.kept
    .filter((f) => !opts.ignoreUnfixed || f.fixed.length > 0)
    .filter((f) => !opts.severities || opts.severities.includes(f.severity.level));
  return {
    target,
    findings,
    suppressed,
    packages: m.packages,
    database: { file: db.file },
    toolVersion: opts.toolVersion,
    warnings: m.warnings,
  };
}
