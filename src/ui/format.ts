// Formatting and ordering for the web UI: sizes, times, short digests, natural and semver tag order.

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

/**
 * A key whose bytewise order is natural order: each run of digits becomes its length (two digits) and
 * then the digits without leading zeros, so "v2" < "v10" and "1.9" < "1.10".
 */
export function naturalKey(s: string): string {
  return s.replace(/\d+/g, (d) => {
    const t = d.replace(/^0+/, '') || '0';
    return String(t.length).padStart(2, '0') + t;
  });
}

const SEMVER = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:[+_].*)?$/;
const pad = (n: string | undefined) => naturalKey(n ?? '0');

/**
 * A key whose bytewise order is semantic-version order for tags that look like versions ("1", "1.2",
 * "v1.2.3-rc.1"), a pre-release before its release; other tags after every version, in natural order.
 */
export function semverKey(s: string): string {
  const m = SEMVER.exec(s);
  if (!m) return `2${naturalKey(s)}`;
  return `1${pad(m[1])}.${pad(m[2])}.${pad(m[3])}${m[4] === undefined ? '~' : `-${naturalKey(m[4])}`}`;
}

/** Natural order (digit runs as numbers), ties bytewise. */
export function naturalCompare(a: string, b: string): number {
  return bytewise(naturalKey(a), naturalKey(b)) || bytewise(a, b);
}

/** Semantic-version order (see semverKey), ties naturally then bytewise. */
export function semverCompare(a: string, b: string): number {
  return bytewise(semverKey(a), semverKey(b)) || naturalCompare(a, b);
}

/** A glob of `*` and `?` as a whole-string test; every other character literal. */
export function globTest(glob: string): (s: string) => boolean {
  const src = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  const re = new RegExp(`^${src}$`);
  return (s) => re.test(s);
}

/** Substring match, or a glob when the filter has `*` or `?`. */
export function nameFilter(q: string): (s: string) => boolean {
  if (!q) return () => true;
  if (/[*?]/.test(q)) return globTest(q);
  return (s) => s.includes(q);
}
