import picomatch from 'picomatch';
import { LINT_RULES, SEVERITIES, type Finding, type Severity } from './lint-rules.js';

/**
 * What happens to lint findings after the rules ran: the ignore file, the severity filter, and the
 * SARIF 2.1.0 document GitHub code scanning takes.
 */

export interface IgnoreEntry {
  ruleId: string;
  /** A glob over the finding's path (`/app/**`); none: every finding of the rule. */
  path?: string;
  /** YYYY-MM-DD: the entry stops applying after this day (UTC). */
  expires?: string;
  line: number;
}

/** Thrown for an ignore file line that is not `RULE-ID [PATH-GLOB] [exp:YYYY-MM-DD]`. */
export class IgnoreFileError extends Error {}

/**
 * Parses an ignore file, `.trivyignore`-like: one `RULE-ID [PATH-GLOB] [exp:YYYY-MM-DD]` per line,
 * `#` starts a comment. Unknown rule IDs and bad dates are errors (a typo must not silently ignore nothing).
 */
export function parseIgnoreFile(text: string, source = '.kura-lint-ignore'): IgnoreEntry[] {
  const out: IgnoreEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const words = raw.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean);
    if (!words.length) return;
    const line = i + 1;
    const [ruleId, ...rest] = words as [string, ...string[]];
    if (!LINT_RULES.some((r) => r.id === ruleId))
      throw new IgnoreFileError(`${source}:${line}: unknown rule "${ruleId}"; see kura lint --list-rules`);
    const e: IgnoreEntry = { ruleId, line };
    for (const w of rest) {
      if (w.startsWith('exp:')) {
        const d = w.slice(4);
        if (!/^\d{4}-\d{2}-\d{2}$/.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`)))
          throw new IgnoreFileError(`${source}:${line}: "${w}" is not exp:YYYY-MM-DD`);
        e.expires = d;
      } else if (e.path === undefined) e.path = w;
      else
        throw new IgnoreFileError(
          `${source}:${line}: expected RULE-ID [PATH-GLOB] [exp:YYYY-MM-DD], got "${raw.trim()}"`,
        );
    }
    out.push(e);
  });
  return out;
}

/** Findings the ignore entries do not cover (entries past their expiry day are reported in `expired`). */
export function applyIgnores(
  findings: Finding[],
  entries: IgnoreEntry[],
  now = new Date(),
): { kept: Finding[]; ignored: number; expired: IgnoreEntry[] } {
  const today = now.toISOString().slice(0, 10);
  const live = entries.filter((e) => !e.expires || e.expires >= today);
  const expired = entries.filter((e) => e.expires && e.expires < today);
  const matchers = live.map((e) => ({
    e,
    m: e.path ? picomatch(e.path.replace(/^\/+/, ''), { dot: true }) : undefined,
  }));
  const kept = findings.filter(
    (f) =>
      !matchers.some(
        ({ e, m }) => e.ruleId === f.ruleId && (!m || (f.path !== undefined && m(f.path.replace(/^\/+/, '')))),
      ),
  );
  return { kept, ignored: findings.length - kept.length, expired };
}

/** `--severity HIGH,CRITICAL`: the severities to report (trivy's flag). */
export function parseSeverities(s: string): Severity[] {
  const out = s
    .split(',')
    .map((x) => x.trim().toUpperCase())
    .filter(Boolean);
  for (const x of out)
    if (!(SEVERITIES as readonly string[]).includes(x))
      throw new Error(`--severity: unknown severity "${x}"; use a list of ${SEVERITIES.join(',')}`);
  return out as Severity[];
}

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  CRITICAL: 'error',
  HIGH: 'error',
  MEDIUM: 'warning',
  LOW: 'note',
};
/** GitHub's security-severity scores (CVSS-like): what code scanning sorts by. */
const SCORE: Record<Severity, string> = { CRITICAL: '9.5', HIGH: '8.0', MEDIUM: '5.5', LOW: '2.0' };

/** A SARIF 2.1.0 log of the findings; `image` is the location linted (the artifact of findings without a path). */
export function toSarif(findings: Finding[], image: string, version: string): object {
  const index = new Map(LINT_RULES.map((r, i) => [r.id, i]));
  // Findings about the image as a whole point at the location, as a relative URI (`host%3A5000/repo%3Atag`).
  const imageUri = encodeURI(image.replace(/^[a-z-]+:(?:\/\/)?/, '').replace(/^\/+/, '')).replace(/:/g, '%3A');
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'kura',
            version,
            rules: LINT_RULES.map((r) => ({
              id: r.id,
              name: r.name,
              shortDescription: { text: r.title },
              fullDescription: { text: `${r.title}. Fix: ${r.fix}.` },
              help: {
                text: `${r.fix}. See docs/analysis.md#${r.id.toLowerCase()} in the kura sources.`,
                markdown: `**Fix:** ${r.fix}. See \`docs/analysis.md#${r.id.toLowerCase()}\` in the kura sources.`,
              },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: {
                tags: ['container', 'security'],
                'security-severity': SCORE[r.severity],
                precision: 'high',
              },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.ruleId,
          ruleIndex: index.get(f.ruleId),
          level: LEVEL[f.severity],
          message: { text: f.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.path ? encodeURI(f.path.replace(/^\/+/, '')) : imageUri },
                region: { startLine: f.line ?? 1 },
              },
              ...(f.layer !== undefined ? { message: { text: `layer ${f.layer}` } } : {}),
            },
          ],
          ...(f.fingerprint ? { partialFingerprints: { 'kuraFinding/v1': f.fingerprint } } : {}),
          properties: {
            severity: f.severity,
            ...(f.layer !== undefined ? { layer: f.layer } : {}),
            ...(f.kind ? { secretKind: f.kind } : {}),
            ...(f.deleted ? { deletedInLaterLayer: true } : {}),
          },
        })),
      },
    ],
  };
}
