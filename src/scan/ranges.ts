/**
 * OSV range evaluation (osv-schema "Evaluation"): per range, events sorted by version, `introduced` opens,
 * `fixed` (v ≥) and `last_affected` (v >) close, `limit` caps; or the version is listed in `versions`.
 * GIT ranges are ignored: an image's packages carry versions, not commits.
 */
import type { OsvAffected, OsvEvent, OsvRange } from './osv.js';
import { compareScheme, InvalidVersionError, schemeOf, type VersionScheme } from './versions/index.js';

/** How to order one range's versions: SEMVER ranges by semver (Go's with its `v`), ECOSYSTEM by the ecosystem. */
function schemeFor(range: OsvRange, ecosystem: string): VersionScheme | undefined {
  if (range.type === 'SEMVER') return schemeOf(ecosystem) === 'go' ? 'go' : 'semver';
  if (range.type === 'ECOSYSTEM') return schemeOf(ecosystem);
  return undefined;
}

const versionOf = (e: OsvEvent): string => Object.values(e)[0] as string;

/** The verdict on one version: affected or not, and the fixed versions of the ranges that affect it. */
export interface Verdict {
  affected: boolean;
  fixed: string[];
}

/** One range against one version (the OSV pseudo-code, with `limit` as an upper bound on the whole range). */
export function inRange(range: OsvRange, ecosystem: string, version: string): Verdict {
  const scheme = schemeFor(range, ecosystem);
  if (!scheme) return { affected: false, fixed: [] };
  const cmp = (a: string, b: string) => compareScheme(scheme, a, b);
  const limits = range.events.filter((e): e is { limit: string } => 'limit' in e);
  if (limits.length && !limits.some((l) => l.limit === '*' || cmp(version, l.limit) < 0))
    return { affected: false, fixed: [] };
  // "0" sorts below everything; otherwise by version, with a stable order for ties.
  const events = range.events
    .filter((e) => !('limit' in e))
    .map((e) => ({ e, v: versionOf(e) }))
    .sort((x, y) => (x.v === '0' ? -1 : y.v === '0' ? 1 : cmp(x.v, y.v)));
  let affected = false;
  let fixed: string | undefined;
  for (const { e, v } of events) {
    if ('introduced' in e) {
      if (v === '0' || cmp(version, v) >= 0) {
        affected = true;
        fixed = undefined;
      }
    } else if ('fixed' in e) {
      if (cmp(version, v) >= 0) affected = false;
      else if (affected && fixed === undefined) fixed = v;
    } else if ('last_affected' in e) {
      if (cmp(version, v) > 0) affected = false;
    }
  }
  return { affected, fixed: affected && fixed !== undefined ? [fixed] : [] };
}

/**
 * One `affected` entry against one version of its package: listed in `versions`, or inside a range. A version or
 * range the ecosystem's ordering cannot read counts as not affected and is reported through `onInvalid`.
 */
export function isAffected(entry: OsvAffected, version: string, onInvalid?: (e: InvalidVersionError) => void): Verdict {
  const ecosystem = entry.package?.ecosystem ?? '';
  const scheme = schemeOf(ecosystem);
  const fixed = new Set<string>();
  let affected = false;
  for (const listed of entry.versions ?? []) {
    if (listed === version) affected = true;
    else if (scheme) {
      try {
        if (compareScheme(scheme, listed, version) === 0) affected = true;
      } catch {
        // A listed version the ordering cannot read is only matched by its exact text.
      }
    }
  }
  for (const range of entry.ranges ?? []) {
    try {
      const v = inRange(range, ecosystem, version);
      if (v.affected) {
        affected = true;
        for (const f of v.fixed) fixed.add(f);
      }
    } catch (e) {
      if (!(e instanceof InvalidVersionError)) throw e;
      onInvalid?.(e);
    }
  }
  return { affected, fixed: [...fixed] };
}
