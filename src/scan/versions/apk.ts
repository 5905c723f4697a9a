/** Alpine package version ordering, as apk-tools' version.c decides it (letters, `_suffix[N]`, `-rN`). */
import { InvalidVersionError } from './errors.js';

// Token types, in the order apk-tools gives them (a later token may not follow an earlier one, with exceptions).
const T = {
  invalid: -1,
  digitOrZero: 0,
  digit: 1,
  letter: 2,
  suffix: 3,
  suffixNo: 4,
  revisionNo: 5,
  end: 6,
} as const;

const PRE = ['alpha', 'beta', 'pre', 'rc'];
const POST = ['cvs', 'svn', 'git', 'hg', 'p'];

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isLower = (c: string | undefined) => c !== undefined && c >= 'a' && c <= 'z';

/** A cursor over one version string. */
interface Cursor {
  s: string;
  i: number;
  type: number;
}

function nextToken(c: Cursor): void {
  let n: number = T.invalid;
  const ch = c.s[c.i];
  if (c.i >= c.s.length) n = T.end;
  else if ((c.type === T.digit || c.type === T.digitOrZero) && isLower(ch)) n = T.letter;
  else if (c.type === T.letter && isDigit(ch)) n = T.digit;
  else if (c.type === T.suffix && isDigit(ch)) n = T.suffixNo;
  else {
    if (ch === '.') n = T.digitOrZero;
    else if (ch === '_') n = T.suffix;
    else if (ch === '-' && c.s[c.i + 1] === 'r') {
      n = T.revisionNo;
      c.i++;
    }
    c.i++;
  }
  if (n < c.type) {
    const ok =
      (n === T.digitOrZero && c.type === T.digit) ||
      (n === T.suffix && c.type === T.suffixNo) ||
      (n === T.digit && c.type === T.letter);
    if (!ok) n = T.invalid;
  }
  c.type = n;
}

function getToken(c: Cursor): number {
  if (c.i >= c.s.length) {
    c.type = T.end;
    return 0;
  }
  let v = 0;
  let len = 0;
  let nt: number = T.invalid;
  const rest = c.s.slice(c.i);
  switch (c.type) {
    case T.digitOrZero:
    case T.digit:
    case T.suffixNo:
    case T.revisionNo: {
      if (c.type === T.digitOrZero && rest[0] === '0') {
        // Leading zeros after a dot: fewer zeros sort later (apk compares "1.01" below "1.1").
        while (len < rest.length && rest[len] === '0') len++;
        nt = T.digit;
        v = -len;
        break;
      }
      while (len < rest.length && isDigit(rest[len])) v = v * 10 + Number(rest[len++]);
      break;
    }
    case T.letter:
      v = rest.charCodeAt(0);
      len = 1;
      break;
    case T.suffix: {
      const pre = PRE.findIndex((p) => rest.startsWith(p));
      if (pre >= 0) {
        v = pre - PRE.length;
        len = PRE[pre]!.length;
        break;
      }
      const post = POST.findIndex((p) => rest.startsWith(p));
      if (post >= 0) {
        v = post;
        len = POST[post]!.length;
        break;
      }
      c.type = T.invalid;
      return -1;
    }
    default:
      c.type = T.invalid;
      return -1;
  }
  c.i += len;
  if (c.i >= c.s.length) c.type = T.end;
  else if (nt !== T.invalid) c.type = nt;
  else nextToken(c);
  return v;
}

/** What apk_version_validate() accepts: numbers, one letter, `_suffix[N]`s, `-rN`. */
const VALID = /^\d+(\.\d+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(-r\d+)?$/;

/**
 * Compares two apk versions (a leading `v` is ignored, as grype does): negative, zero or positive. Throws for a
 * version apk refuses.
 */
export function compareApk(a: string, b: string): number {
  const sa = a.replace(/^v/, '');
  const sb = b.replace(/^v/, '');
  if (!VALID.test(sa)) throw new InvalidVersionError('Alpine', a);
  if (!VALID.test(sb)) throw new InvalidVersionError('Alpine', b);
  const x: Cursor = { s: sa, i: 0, type: T.digit };
  const y: Cursor = { s: sb, i: 0, type: T.digit };
  let av = 0;
  let bv = 0;
  while (x.type === y.type && x.type !== T.end && x.type !== T.invalid && av === bv) {
    av = getToken(x);
    bv = getToken(y);
  }
  if (av !== bv) return av < bv ? -1 : 1;
  if (x.type === y.type) return 0;
  // Equal so far: the longer version is greater, unless what follows is a pre-release suffix.
  if (x.type === T.suffix && getToken({ ...x }) < 0) return -1;
  if (y.type === T.suffix && getToken({ ...y }) < 0) return 1;
  if (x.type > y.type) return -1;
  if (y.type > x.type) return 1;
  return 0;
}
