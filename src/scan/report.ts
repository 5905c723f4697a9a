/** Scan reports: a table for people, JSON for programs, SARIF 2.1.0 for code-scanning upload, CycloneDX VEX. */
import { renderCycloneDxVex } from './cyclonedx-vex.js';
import type { Suppressed } from './ignore.js';
import type { Finding } from './match.js';
import { SEVERITIES, type SeverityLevel } from './severity.js';

export const REPORT_FORMATS = ['table', 'json', 'sarif', 'cyclonedx', 'cyclonedx@1.5'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** What a report says: the target, its findings (filtered) and what was suppressed, with reasons. */
export interface Report {
  target: { name: string; digest?: string; distro?: string; layers?: string[] };
  findings: Finding[];
  suppressed: Suppressed[];
  packages: { scanned: number; skipped: number };
  database: { file: string; builtAt?: string };
  toolVersion: string;
}

const bySeverity = (a: Finding, b: Finding) =>
  SEVERITIES.indexOf(b.severity.level) - SEVERITIES.indexOf(a.severity.level) ||
  a.pkg.name.localeCompare(b.pkg.name) ||
  a.id.localeCompare(b.id);

/** Counts per severity, highest first, for the summary line and JSON. */
export function countBySeverity(findings: Finding[]): Record<SeverityLevel, number> {
  const out = Object.fromEntries([...SEVERITIES].reverse().map((s) => [s, 0])) as Record<SeverityLevel, number>;
  for (const f of findings) out[f.severity.level]++;
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function renderTable(r: Report): string {
  const counts = countBySeverity(r.findings);
  const total = Object.entries(counts)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  let out = `${r.target.name}${r.target.distro ? ` (${r.target.distro})` : ''}\n`;
  out += `Total: ${r.findings.length} (${total}); ${r.packages.scanned} packages scanned`;
  out += r.packages.skipped ? `, ${r.packages.skipped} without an advisory ecosystem\n` : '\n';
  if (r.findings.length) {
    const rows = [['PACKAGE', 'VULNERABILITY', 'SEVERITY', 'SOURCE', 'INSTALLED', 'FIXED', 'LAYER', 'TITLE']];
    for (const f of [...r.findings].sort(bySeverity)) {
      const score = f.severity.score !== undefined ? ` ${f.severity.score.toFixed(1)}` : '';
      const title = (f.summary ?? '').replace(/\s+/g, ' ');
      rows.push([
        f.pkg.name,
        f.id,
        `${f.severity.level}${score}`,
        f.severity.source,
        f.pkg.version,
        f.fixed.join(', ') || '(none)',
        f.pkg.layer < 0 ? '-' : String(f.pkg.layer),
        title.length > 60 ? `${title.slice(0, 57)}...` : title,
      ]);
    }
    out += `\n${table(rows)}\n`;
  }
  if (r.suppressed.length) {
    out += `\nIgnored (${r.suppressed.length}):\n`;
    for (const s of r.suppressed) {
      const until = s.rule.expires ? ` (until ${s.rule.expires})` : '';
      const reason = s.rule.reason ?? 'no reason given';
      out += `  ${s.finding.id} in ${s.finding.pkg.name} ${s.finding.pkg.version}: ${reason}${until}\n`;
    }
  }
  return out;
}

function renderJson(r: Report): string {
  const doc = {
    target: r.target,
    database: r.database,
    packages: r.packages,
    summary: countBySeverity(r.findings),
    findings: [...r.findings].sort(bySeverity),
    suppressed: r.suppressed.map((s) => ({
      id: s.finding.id,
      package: s.finding.pkg.name,
      version: s.finding.pkg.version,
      reason: s.rule.reason ?? null,
      expires: s.rule.expires ?? null,
      line: s.rule.line,
      ...(s.rule.vex ? { vex: s.rule.vex } : {}),
    })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** GitHub's security-severity for findings without a score (the middle of each CVSS band, as trivy gives). */
const DEFAULT_SCORE: Record<SeverityLevel, string> = {
  CRITICAL: '9.5',
  HIGH: '8.0',
  MEDIUM: '5.5',
  LOW: '2.0',
  UNKNOWN: '0.0',
};

const LEVEL: Record<SeverityLevel, string> = {
  CRITICAL: 'error',
  HIGH: 'error',
  MEDIUM: 'warning',
  LOW: 'note',
  UNKNOWN: 'note',
};

function renderSarif(r: Report): string {
  const findings = [...r.findings].sort(bySeverity);
  const rules: object[] = [];
  const ruleIndex = new Map<string, number>();
  for (const f of findings) {
    if (ruleIndex.has(f.id)) continue;
    ruleIndex.set(f.id, rules.length);
    const text = f.summary ?? f.id;
    const help =
      `Vulnerability ${f.id}\nSeverity: ${f.severity.level} (${f.severity.source})\n` +
      `Package: ${f.pkg.name}\nFixed version: ${f.fixed.join(', ') || 'none yet'}\nLink: ${f.link}`;
    rules.push({
      id: f.id,
      name:
        f.pkg.type === 'deb' || f.pkg.type === 'apk' || f.pkg.type === 'rpm'
          ? 'OsPackageVulnerability'
          : 'LanguageSpecificPackageVulnerability',
      shortDescription: { text },
      fullDescription: { text },
      defaultConfiguration: { level: LEVEL[f.severity.level] },
      ...(f.link ? { helpUri: f.link } : {}),
      help: { text: help, markdown: help.replace(/\n/g, '  \n') },
      properties: {
        'security-severity':
          f.severity.score !== undefined ? f.severity.score.toFixed(1) : DEFAULT_SCORE[f.severity.level],
        precision: 'very-high',
        tags: ['vulnerability', 'security', f.severity.level],
      },
    });
  }
  const results = findings.map((f) => ({
    ruleId: f.id,
    ruleIndex: ruleIndex.get(f.id)!,
    level: LEVEL[f.severity.level],
    message: {
      text:
        `Package: ${f.pkg.name}\nInstalled Version: ${f.pkg.version}\nVulnerability ${f.id}\n` +
        `Severity: ${f.severity.level}\nFixed Version: ${f.fixed.join(', ') || 'none'}\nLink: ${f.link}`,
    },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: (f.pkg.locations[0] ?? r.target.name).replace(/^\/+/, ''), uriBaseId: 'ROOTPATH' },
          region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 },
        },
        message: { text: `${r.target.name}: ${f.pkg.name}@${f.pkg.version}` },
      },
    ],
  }));
  const doc = {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [
      {
        tool: {
          driver: { name: 'kura', version: r.toolVersion, rules },
        },
        results,
        columnKind: 'utf16CodeUnits',
        originalUriBaseIds: { ROOTPATH: { uri: 'file:///' } },
        properties: { imageName: r.target.name, ...(r.target.digest ? { imageDigest: r.target.digest } : {}) },
      },
    ],
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

export function renderReport(r: Report, format: ReportFormat): string {
  if (format === 'json') return renderJson(r);
  if (format === 'sarif') return renderSarif(r);
  if (format === 'cyclonedx' || format === 'cyclonedx@1.5')
    return renderCycloneDxVex(r, format === 'cyclonedx' ? '1.6' : '1.5');
  return renderTable(r);
}
