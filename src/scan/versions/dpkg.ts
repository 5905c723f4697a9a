/** Debian version ordering, as dpkg decides it (deb-version(7): epoch, upstream, revision; `~` before everything). */
import { InvalidVersionError } from './errors.js';

interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/**
 * Splits `[epoch:]upstream[-revision]`: the epoch at the first colon, the revision at the last hyphen. Throws for
 * what dpkg refuses (an empty or non-numeric epoch, an empty upstream or revision, spaces).
 */
export function parseDpkg(v: string): DebVersion {
  const s = v.trim();
  const bad = () => new InvalidVersionError('Debian', v);
  if (!s || /\s/.test(s)) throw bad();
  const colon = s.indexOf(':');
  let epoch = 0;
  let rest = s;
  if (colon >= 0) {
    if (!/^\d+$/.test(s.slice(0, colon))) throw bad();
    epoch = Number(s.slice(0, colon));
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  const out =
    dash < 0
      ? { epoch, upstream: rest, revision: '' }
      : { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) };
  if (!out.upstream || (dash >= 0 && !out.revision)) throw bad();
  return out;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** dpkg's order(): `~` first, then the end of a part and digits, then letters, then everything else. */
function order(c: number | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126) return -1; // ~
  return c + 256;
}

/** dpkg's verrevcmp(): alternating non-digit runs (by order()) and digit runs (numerically). */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const ac = (k: number) => (k < a.length ? a.charCodeAt(k) : undefined);
  const bc = (k: number) => (k < b.length ? b.charCodeAt(k) : undefined);
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const x = order(ac(i));
      const y = order(bc(j));
      if (x !== y) return x - y;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (i < a.length && j < b.length && isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** Compares two Debian versions: negative, zero or positive, as `dpkg --compare-versions` orders them. */
export function compareDpkg(a: string, b: string): number {
  const x = parseDpkg(a);
  const y = parseDpkg(b);
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
}
