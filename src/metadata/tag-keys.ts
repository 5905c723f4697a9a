// Tag order and filter shared by the web UI and every metadata store: the natural and semver sort keys (stored
// with each tag by the SQL stores), the sorts, the name filter, and the page cut the memory store computes
// and the SQL stores must agree with (conformance/tag-pages.ts).
import { compareBytewise } from './page.js';
import type { TagEntry } from './types.js';

export const TAG_SORTS = ['name', '-name', 'natural', '-natural', 'semver', '-semver', 'pushed', '-pushed'] as const;
/** An order of the tags page; `-` reverses it (ties by name, reversed too). */
export type TagSort = (typeof TAG_SORTS)[number];
export type TagOrder = 'name' | 'natural' | 'semver' | 'pushed';

/** Which page of a repository's tags `tagPage` returns (order and filter: below). */
export interface TagPageQuery {
  /** name, natural, semver or pushed; `-` reverses; ties by name. */
  sort: TagSort;
  /** The last tag of the previous page (keyset cursor), or null for the first page. */
  after: string | null;
  /** Tags on the page at most. */
  limit: number;
  /** Substring of the name, or a whole-name glob with `*` / `?`; '' keeps every tag. */
  q: string;
}

/** A tag of a page with every tag on its digest (itself included, bytewise): what deleting its manifest removes. */
export interface TagPageEntry extends TagEntry {
  sameDigest: string[];
}

export interface TagPage {
  tags: TagPageEntry[];
  /** More matching tags follow the page. */
  more: boolean;
  /** Tags in the repository, and those the filter keeps. */
  total: number;
  matched: number;
}

/** The order and direction of a sort. */
export function orderOf(sort: TagSort): { order: TagOrder; desc: boolean } {
  const desc = sort.startsWith('-');
  return { order: (desc ? sort.slice(1) : sort) as TagOrder, desc };
}

/**
 * A key whose bytewise order is natural order: each run of digits becomes its length (two digits) and
 * then the digits without leading zeros, so "v2" < "v10" and "1.9" < "1.10".
 * Stored in `tags.natural_key`: a change here needs a migration that sets the column to NULL (refilled at start).
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
 * Stored in `tags.semver_key` (see naturalKey).
 */
export function semverKey(s: string): string {
  const m = SEMVER.exec(s);
  if (!m) return `2${naturalKey(s)}`;
  return `1${pad(m[1])}.${pad(m[2])}.${pad(m[3])}${m[4] === undefined ? '~' : `-${naturalKey(m[4])}`}`;
}

/** The tags page's filter: nothing, a substring, or a whole-name glob of `*` and `?` (case-sensitive). */
export type TagFilter = { kind: 'all' } | { kind: 'substring'; text: string } | { kind: 'glob'; glob: string };

export function parseTagFilter(q: string): TagFilter {
  if (!q) return { kind: 'all' };
  return /[*?]/.test(q) ? { kind: 'glob', glob: q } : { kind: 'substring', text: q };
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
  const f = parseTagFilter(q);
  if (f.kind === 'all') return () => true;
  if (f.kind === 'glob') return globTest(f.glob);
  return (s) => s.includes(f.text);
}

/** The glob as SQLite's GLOB pattern: `*` and `?` as they are, `[` (a class there) as the class of `[`. */
export function sqliteGlob(glob: string): string {
  return glob.replace(/\[/g, '[[]');
}

/** The glob as a LIKE pattern with `\` as the escape character. */
export function likePattern(glob: string): string {
  return glob
    .replace(/[\\%_]/g, '\\$&')
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');
}

const KEYS: Record<TagOrder, (t: TagEntry) => string | number> = {
  name: (t) => t.name,
  natural: (t) => naturalKey(t.name),
  semver: (t) => semverKey(t.name),
  pushed: (t) => t.pushedAt,
};

type Keyed<T> = { t: T; k: string | number };

const cmpKeyed = <T extends TagEntry>(a: Keyed<T>, b: Keyed<T>): number =>
  a.k < b.k ? -1 : a.k > b.k ? 1 : compareBytewise(a.t.name, b.t.name);

/** Sorts by a key computed once per tag (not per comparison), ties by name; `-` reverses. */
export function sortTags<T extends TagEntry>(tags: T[], sort: TagSort): T[] {
  const { order, desc } = orderOf(sort);
  const keyed = tags.map((t) => ({ t, k: KEYS[order](t) }));
  keyed.sort(desc ? (a, b) => cmpKeyed(b, a) : cmpKeyed);
  return keyed.map((x) => x.t);
}

/**
 * One page of `all` (a repository's tags) as every store must give it: the tags the filter keeps, in the sort's
 * order, after the cursor tag `after` (for the name orders its key comes from the name, so a deleted cursor tag
 * still marks the place; for push time a deleted cursor tag starts the list again), at most `limit` of them.
 */
export function tagPageOf(all: TagEntry[], query: TagPageQuery): TagPage {
  const keep = nameFilter(query.q);
  const matched = sortTags(
    all.filter((t) => keep(t.name)),
    query.sort,
  );
  const { order, desc } = orderOf(query.sort);
  let start = 0;
  if (query.after !== null) {
    const after = query.after;
    const pushed = order === 'pushed' ? all.find((t) => t.name === after)?.pushedAt : 0;
    if (pushed !== undefined) {
      const cursor = { t: { name: after, digest: '', pushedAt: pushed } as TagEntry, k: 0 as string | number };
      cursor.k = KEYS[order](cursor.t);
      const before = (x: TagEntry) => {
        const c = cmpKeyed({ t: x, k: KEYS[order](x) }, cursor);
        return desc ? c >= 0 : c <= 0;
      };
      while (start < matched.length && before(matched[start]!)) start++;
    }
  }
  const shown = matched.slice(start, start + query.limit);
  const byDigest = new Map(shown.map((t) => [t.digest, [] as string[]]));
  for (const t of all) byDigest.get(t.digest)?.push(t.name);
  return {
    tags: shown.map((t) => ({ ...t, sameDigest: byDigest.get(t.digest)!.sort(compareBytewise) })),
    more: start + query.limit < matched.length,
    total: all.length,
    matched: matched.length,
  };
}
