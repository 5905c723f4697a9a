/**
 * A finding's severity and where it came from: the distro's own rating for distro packages, else the newest CVSS
 * vector (scored with ae-cvss-calculator), else GitHub's database severity.
 */
import cvss from 'ae-cvss-calculator';
import type { OsvRecord } from './osv.js';

export const SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type SeverityLevel = (typeof SEVERITIES)[number];

export interface Severity {
  level: SeverityLevel;
  score?: number;
  vector?: string;
  /** Where the rating came from: `CVSS:3.1`, `GHSA`, `Debian urgency`, `Ubuntu priority`, or `none`. */
  source: string;
  /** The record it was read from. */
  from?: string;
}

/** The CVSS qualitative rating of a score (CVSS v3/v4 table; v2 scores use it too, as NVD's v3 mapping does). */
export function ratingOf(score: number): SeverityLevel {
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  if (score > 0) return 'LOW';
  return 'UNKNOWN';
}

// Scores by vector: a database repeats the same few thousand vectors across its records.
const scores = new Map<string, number | undefined>();

/** The base score of a CVSS v2, v3.x or v4 vector, or undefined when the vector cannot be read. */
export function cvssScore(vector: string): number | undefined {
  if (scores.has(vector)) return scores.get(vector);
  let score: number | undefined;
  try {
    const s = cvss.fromVector(vector)?.calculateScores();
    score = typeof s?.base === 'number' && Number.isFinite(s.base) ? s.base : undefined;
  } catch {
    score = undefined;
  }
  scores.set(vector, score);
  return score;
}

const WORDS: Record<string, SeverityLevel> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  important: 'HIGH',
  moderate: 'MEDIUM',
  medium: 'MEDIUM',
  low: 'LOW',
  negligible: 'LOW',
  unimportant: 'LOW',
};

/** The distro's own rating: Ubuntu's `severity[{type: "Ubuntu"}]`, Debian's `ecosystem_specific.urgency`. */
function distroRating(r: OsvRecord): Severity | undefined {
  for (const s of r.severity ?? []) {
    if (s.type === 'Ubuntu' && WORDS[s.score.toLowerCase()])
      return { level: WORDS[s.score.toLowerCase()]!, source: 'Ubuntu priority', from: r.id };
  }
  for (const a of r.affected ?? []) {
    const u = a.ecosystem_specific?.urgency;
    if (typeof u === 'string' && WORDS[u.replace(/\*+$/, '').toLowerCase()])
      return { level: WORDS[u.replace(/\*+$/, '').toLowerCase()]!, source: 'Debian urgency', from: r.id };
  }
  return undefined;
}

const CVSS_ORDER = ['CVSS_V4', 'CVSS_V3', 'CVSS_V2'];

function cvssOf(r: OsvRecord): Severity | undefined {
  const all = [...(r.severity ?? []), ...(r.affected ?? []).flatMap((a) => a.severity ?? [])];
  for (const type of CVSS_ORDER) {
    for (const s of all.filter((x) => x.type === type)) {
      const score = cvssScore(s.score);
      if (score === undefined) continue;
      const source = s.score.startsWith('CVSS:') ? s.score.split('/')[0]! : 'CVSS:2.0';
      return { level: ratingOf(score), score, vector: s.score, source, from: r.id };
    }
  }
  return undefined;
}

function databaseRating(r: OsvRecord): Severity | undefined {
  const s = r.database_specific?.severity;
  if (typeof s === 'string' && WORDS[s.toLowerCase()])
    return { level: WORDS[s.toLowerCase()]!, source: r.id.startsWith('GHSA-') ? 'GHSA' : 'database', from: r.id };
  return undefined;
}

/** The severity of a group of records about one vulnerability (all aliases of it). */
export function severityOf(records: OsvRecord[], distroPackage: boolean): Severity {
  const pick = (f: (r: OsvRecord) => Severity | undefined) => {
    const found = records.map(f).filter((s): s is Severity => !!s);
    return found.sort((a, b) => SEVERITIES.indexOf(b.level) - SEVERITIES.indexOf(a.level))[0];
  };
  return (
    (distroPackage ? pick(distroRating) : undefined) ??
    pick(cvssOf) ??
    pick(databaseRating) ?? { level: 'UNKNOWN', source: 'none' }
  );
}
