// Vulnerability counts as the web UI's lists show them: one line per scan, the worst of several (an index's
// platforms, a repository's tagged images), "not scanned" when there is no scan (docs/ui.md).
import type { ScanCounts } from '../metadata/types.js';

export const LEVELS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;

/** A repository row's cell covers the images its this many most recently pushed tags reach (one tags page). */
export const RECENT_TAGS = 100;

type Counts = Record<string, number>;

/** Counts per severity of a stored summary (JSON): known levels with whole non-negative numbers, nothing else. */
export function countsOf(summary: string | null): Counts {
  let v: unknown;
  try {
    v = summary ? JSON.parse(summary) : null;
  } catch {
    return {};
  }
  const out: Counts = {};
  if (!v || typeof v !== 'object') return out;
  for (const l of LEVELS) {
    const n = (v as Record<string, unknown>)[l];
    if (typeof n === 'number' && Number.isSafeInteger(n) && n > 0) out[l] = n;
  }
  return out;
}

/** Positive when `a` is worse than `b`: more critical findings, then more high, and so on down. */
export function compareCounts(a: Counts, b: Counts): number {
  for (const l of LEVELS) {
    const d = (a[l] ?? 0) - (b[l] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** "2 critical, 5 high" (non-zero levels, most severe first), or "none found". */
export function countsLine(counts: Counts): string {
  const parts = LEVELS.filter((l) => (counts[l] ?? 0) > 0).map((l) => `${counts[l]} ${l.toLowerCase()}`);
  return parts.length ? parts.join(', ') : 'none found';
}

/** The most severe line among scans, with their states when none is done; "not scanned" without any. */
export function worstLine(scans: Pick<ScanCounts, 'state' | 'summary'>[], what: string): string {
  const done = scans.filter((s) => s.state === 'done').map((s) => countsOf(s.summary));
  if (done.length === 0) {
    if (scans.some((s) => s.state === 'pending')) return 'scan pending';
    if (scans.some((s) => s.state === 'failed')) return 'scan failed';
    return 'not scanned';
  }
  const worst = done.reduce((w, c) => (compareCounts(c, w) > 0 ? c : w));
  return done.length === 1 ? countsLine(worst) : `${countsLine(worst)} (worst of ${done.length} ${what})`;
}
