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

const CHUNK = /(\d+)|(\D+)/g;

/** Natural order: runs of digits compare as numbers ("v2" < "v10"), the rest bytewise; ties bytewise. */
export function naturalCompare(a: string, b: string): number {
  const xa = a.match(CHUNK) ?? [];
  const xb = b.match(CHUNK) ?? [];
  for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
    const pa = xa[i]!;
    const pb = xb[i]!;
    if (pa === pb) continue;
    const na = /^\d/.test(pa);
    const nb = /^\d/.test(pb);
    if (na && nb) {
      const sa = pa.replace(/^0+/, '');
      const sb = pb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length - sb.length;
      if (sa !== sb) return sa < sb ? -1 : 1;
      continue;
    }
    return pa < pb ? -1 : 1;
  }
  if (xa.length !== xb.length) return xa.length - xb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

const SEMVER = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:[+_].*)?$/;

/**
 * Semantic-version order for tags that look like versions ("1", "1.2", "v1.2.3-rc.1"): a pre-release
 * sorts before its release. Tags that are no version sort after every version, naturally.
 */
export function semverCompare(a: string, b: string): number {
  const ma = SEMVER.exec(a);
  const mb = SEMVER.exec(b);
  if (!ma || !mb) return ma ? -1 : mb ? 1 : naturalCompare(a, b);
  for (let i = 1; i <= 3; i++) {
    const d = Number(ma[i] ?? 0) - Number(mb[i] ?? 0);
    if (d !== 0) return d;
  }
  const pa = ma[4];
  const pb = mb[4];
  if (pa !== pb) {
    if (pa === undefined) return 1;
    if (pb === undefined) return -1;
    const c = naturalCompare(pa, pb);
    if (c !== 0) return c;
  }
  return naturalCompare(a, b);
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
