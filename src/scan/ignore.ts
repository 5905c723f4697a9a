/**
 * Ignore files in trivy's `.trivyignore` syntax: one id per line, `#` comments (a comment line right above an id
 * is its reason, as trivy shows it), and `exp:YYYY-MM-DD` after an id to stop ignoring it after that date.
 */
import type { Finding } from './match.js';

export interface IgnoreRule {
  id: string;
  /** Ignored until the end of this day (UTC); after it the rule is void. */
  expires?: string;
  reason?: string;
  line: number;
  /** Set when the rule is an OpenVEX statement (line is then 0). */
  vex?: { status: 'not_affected' | 'fixed'; justification?: string; where: string };
}

/** Parses an ignore file; a bad `exp:` date throws naming the line. */
export function parseIgnoreFile(text: string, file: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  let comment: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) {
      comment = [];
      return;
    }
    if (line.startsWith('#')) {
      comment.push(line.replace(/^#+\s*/, ''));
      return;
    }
    const [id, ...rest] = line.split(/\s+/);
    const rule: IgnoreRule = { id: id!, line: i + 1 };
    const inline: string[] = [];
    for (const part of rest) {
      if (part.startsWith('exp:')) {
        const d = part.slice(4);
        if (!/^\d{4}-\d{2}-\d{2}$/.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`)))
          throw new Error(`${file}:${i + 1}: "${part}" is not a date; write exp:YYYY-MM-DD`);
        rule.expires = d;
      } else inline.push(part);
    }
    const reason = [...comment, inline.join(' ').replace(/^#\s*/, '')].filter(Boolean).join(' ');
    if (reason) rule.reason = reason;
    rules.push(rule);
    comment = [];
  });
  return rules;
}

/** A finding kept out of the report, and the rule that did it. */
export interface Suppressed {
  finding: Finding;
  rule: IgnoreRule;
}

/** Splits findings into kept and suppressed: a rule matches the finding's id or any alias, until it expires. */
export function applyIgnores(
  findings: Finding[],
  rules: IgnoreRule[],
  now: Date,
): { kept: Finding[]; suppressed: Suppressed[] } {
  const today = now.toISOString().slice(0, 10);
  const live = rules.filter((r) => !r.expires || r.expires >= today);
  const kept: Finding[] = [];
  const suppressed: Suppressed[] = [];
  for (const f of findings) {
    const ids = new Set([f.id, ...f.aliases]);
    const rule = live.find((r) => ids.has(r.id));
    if (rule) suppressed.push({ finding: f, rule });
    else kept.push(f);
  }
  return { kept, suppressed };
}
