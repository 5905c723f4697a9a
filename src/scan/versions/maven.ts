/**
 * Maven version ordering: org.apache.maven.artifact.versioning.ComparableVersion (Maven 3.x), items of
 * numbers, qualifiers and sub-lists, with Maven's qualifier order alpha < beta < milestone < rc < snapshot < "" < sp.
 */

type Item = { kind: 'int'; value: bigint } | { kind: 'str'; value: string } | { kind: 'list'; items: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));

/** A qualifier as a string that sorts: known ones by their place, unknown ones after all of them, lexically. */
function comparable(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i < 0 ? `${QUALIFIERS.length}-${q}` : String(i);
}

function strItem(value: string, followedByDigit: boolean): Item {
  if (followedByDigit && value.length === 1) {
    if (value === 'a') value = 'alpha';
    else if (value === 'b') value = 'beta';
    else if (value === 'm') value = 'milestone';
  }
  return { kind: 'str', value: ALIASES[value] ?? value };
}

function parseItem(isDigit: boolean, buf: string): Item {
  return isDigit ? { kind: 'int', value: BigInt(buf) } : strItem(buf, false);
}

function isNull(it: Item): boolean {
  if (it.kind === 'int') return it.value === 0n;
  if (it.kind === 'str') return comparable(it.value) === RELEASE_INDEX;
  return it.items.length === 0;
}

/** Drops trailing null items (zeros, release qualifiers, empty lists) up to the last sub-list. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const last = list[i]!;
    if (isNull(last)) list.splice(i, 1);
    else if (last.kind !== 'list') break;
  }
}

/** Parses a version into its item list, the way ComparableVersion.parseVersion does. */
export function parseMaven(version: string): Item {
  const v = version.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  let isDigit = false;
  let start = 0;
  const sub = () => {
    const l: Item[] = [];
    list.push({ kind: 'list', items: l });
    list = l;
    stack.push(l);
  };
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '.' || c === '-') {
      list.push(i === start ? { kind: 'int', value: 0n } : parseItem(isDigit, v.slice(start, i)));
      start = i + 1;
      if (c === '-') sub();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        list.push(strItem(v.slice(start, i), true));
        start = i;
        sub();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(parseItem(true, v.slice(start, i)));
        start = i;
        sub();
      }
      isDigit = false;
    }
  }
  if (v.length > start) list.push(parseItem(isDigit, v.slice(start)));
  while (stack.length) normalize(stack.pop()!);
  return { kind: 'list', items: root };
}

const cmp = <T>(a: T, b: T) => (a < b ? -1 : a > b ? 1 : 0);

/** Item.compareTo(other), where `undefined` is Java's null (the shorter list's missing item). */
function compareItem(a: Item, b: Item | undefined): number {
  if (a.kind === 'int') {
    if (!b) return a.value === 0n ? 0 : 1;
    return b.kind === 'int' ? cmp(a.value, b.value) : 1;
  }
  if (a.kind === 'str') {
    if (!b) return cmp(comparable(a.value), RELEASE_INDEX);
    if (b.kind === 'int' || b.kind === 'list') return -1;
    return cmp(comparable(a.value), comparable(b.value));
  }
  if (!b) {
    for (const it of a.items) {
      const r = compareItem(it, undefined);
      if (r) return r;
    }
    return 0;
  }
  if (b.kind === 'int') return -1;
  if (b.kind === 'str') return 1;
  const n = Math.max(a.items.length, b.items.length);
  for (let i = 0; i < n; i++) {
    const l = a.items[i];
    const r = b.items[i];
    const result = l === undefined ? (r === undefined ? 0 : -compareItem(r, l)) : compareItem(l, r);
    if (result) return result;
  }
  return 0;
}

/** Compares two Maven versions: negative, zero or positive. */
export function compareMaven(a: string, b: string): number {
  return compareItem(parseMaven(a), parseMaven(b));
}
