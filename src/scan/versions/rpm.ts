/** RPM version ordering: rpmvercmp() of rpm 4.18 over `[epoch:]version[-release]`, with `~` and `^`. */

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined) => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isAlnum = (c: string | undefined) => isDigit(c) || isAlpha(c);

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

/** rpmvercmp(): segments of digits or letters, separators ignored, `~` before all, `^` after the end only. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]) && b[j] !== '~' && b[j] !== '^') j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (!(i < a.length && j < b.length)) break;
    let ei = i;
    let ej = j;
    const num = isDigit(a[i]);
    const same = num ? isDigit : isAlpha;
    while (ei < a.length && same(a[ei])) ei++;
    while (ej < b.length && same(b[ej])) ej++;
    if (ei === i) return -1; // cannot happen: a[i] is alphanumeric
    if (ej === j) return num ? 1 : -1;
    let x = a.slice(i, ei);
    let y = b.slice(j, ej);
    if (num) {
      x = x.replace(/^0+/, '');
      y = y.replace(/^0+/, '');
      if (x.length !== y.length) return x.length > y.length ? 1 : -1;
    }
    if (x !== y) return x < y ? -1 : 1;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

interface Evr {
  epoch?: string;
  version: string;
  release?: string;
}

/** rpm's parseEVR(): leading digits then `:` are the epoch; the release follows the last hyphen. */
export function parseEvr(evr: string): Evr {
  let k = 0;
  while (k < evr.length && isDigit(evr[k])) k++;
  let epoch: string | undefined;
  let rest = evr;
  if (evr[k] === ':') {
    epoch = evr.slice(0, k) || '0';
    rest = evr.slice(k + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return { epoch, version: rest };
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

/**
 * Epochs (missing = 0), versions, then releases (missing = empty), as rpm 4.18's `rpm.vercmp()` orders EVR strings:
 * `1.0-1` is newer than `1.0`.
 */
export function compareRpm(a: string, b: string): number {
  const x = parseEvr(a);
  const y = parseEvr(b);
  let rc = rpmvercmp(x.epoch ?? '0', y.epoch ?? '0');
  if (rc === 0) rc = rpmvercmp(x.version, y.version);
  if (rc === 0) rc = rpmvercmp(x.release ?? '', y.release ?? '');
  return sign(rc);
}
