// Formatting and ordering for the web UI: sizes, times, short digests, natural and semver tag order (the keys and
// the name filter live in src/metadata/tag-keys.ts: the metadata stores sort and filter by them too).
import { naturalKey, semverKey } from '../metadata/tag-keys.js';

export { globTest, nameFilter, naturalKey, semverKey } from '../metadata/tag-keys.js';

/** Bytes in binary units, never "0" for something that has a size: "512 B", "1.4 MiB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** A UTC timestamp, to the minute ("2026-12-05 05:40 UTC"); "never" for null or 0. */
export function when(ms: number | null | undefined): string {
  if (!ms) return 'never';
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** "sha256:0123456789ab" (algorithm and 12 hex digits). */
export function shortDigest(d: string): string {
  const i = d.indexOf(':');
  return i < 0 ? d.slice(0, 12) : d.slice(0, i + 13);
}

/** Bytewise order of two strings (what SQLite's BINARY collation gives for ASCII tags). */
function bytewise(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Natural order (digit runs as numbers), ties bytewise. */
export function naturalCompare(a: string, b: string): number {
  return bytewise(naturalKey(a), naturalKey(b)) || bytewise(a, b);
}

/** Semantic-version order (see semverKey), ties naturally then bytewise. */
export function semverCompare(a: string, b: string): number {
  return bytewise(semverKey(a), semverKey(b)) || naturalCompare(a, b);
}
