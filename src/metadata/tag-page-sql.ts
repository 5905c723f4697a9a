// The one SQL statement of `manifests.tagPage` for SQLite and PostgreSQL: a page of tags read in order through
// an index on a stored sort key (tags_by_natural, tags_by_semver, tags_by_pushed, or the primary key for names)
// after a keyset cursor, with the tags on each row's digest and the counts.
import { likePattern, naturalKey, orderOf, parseTagFilter, semverKey, sqliteGlob, type TagOrder } from './tag-keys.js';
import type { TagPage, TagPageQuery } from './tag-keys.js';
import type { Digest } from '../oci/digest.js';
import { compareBytewise } from './page.js';

export type Dialect = 'sqlite' | 'postgres';

/** What the statement's text depends on (one prepared statement each). */
export interface TagPageShape {
  order: TagOrder;
  desc: boolean;
  filter: 'all' | 'substring' | 'glob';
  cursor: boolean;
}

/** A row of the statement: one per tag of the page, or one of NULLs when the page is empty (none: no repository). */
export interface TagPageRow {
  name: string | null;
  digest: Digest | null;
  pushedAt: number | null;
  /** Every tag on the digest: a JSON array in SQLite, an array in PostgreSQL. */
  same: string | string[] | null;
  total: number;
  /** Null when there is no filter (then it is `total`). */
  matched: number | null;
}

const COLUMN: Record<TagOrder, string> = {
  name: 't.name',
  natural: 't.natural_key',
  semver: 't.semver_key',
  pushed: 't.updated_at',
};

/** The statement's shape and its named parameters (`@name` in the text) for one query. */
export function tagPageParams(
  dialect: Dialect,
  repo: string,
  query: TagPageQuery,
): { shape: TagPageShape; params: Record<string, unknown> } {
  const { order, desc } = orderOf(query.sort);
  const f = parseTagFilter(query.q);
  const params: Record<string, unknown> = { repo, limit: query.limit + 1 };
  // PostgreSQL: LIKE '%text%' (not strpos) so a trigram index on tags(name) serves it (postgres/trigram.ts).
  if (f.kind === 'substring') params.q = dialect === 'postgres' ? `%${f.text.replace(/[\\%_]/g, '\\$&')}%` : f.text;
  if (f.kind === 'glob') params.q = dialect === 'postgres' ? likePattern(f.glob) : sqliteGlob(f.glob);
  const cursor = query.after !== null;
  if (cursor) {
    params.after = query.after;
    if (order === 'natural') params.key = naturalKey(query.after!);
    if (order === 'semver') params.key = semverKey(query.after!);
  }
  return { shape: { order, desc, filter: f.kind, cursor }, params };
}

/** The text of the statement, with `@name` parameters (PostgreSQL: see `positional`). */
export function tagPageSql(dialect: Dialect, s: TagPageShape): string {
  const pg = dialect === 'postgres';
  const key = COLUMN[s.order];
  const dir = s.desc ? 'DESC' : 'ASC';
  const cmp = s.desc ? '<' : '>';
  const filter = (col: string) => {
    if (s.filter === 'all') return '';
    if (pg) return ` AND ${col} LIKE @q ESCAPE '\\'`;
    return s.filter === 'substring' ? ` AND instr(${col}, @q) > 0` : ` AND ${col} GLOB @q`;
  };
  // SQLite would read a glob's prefix range of names and sort all of it (75 ms for `build-1*`, 11,111 of
  // 100,000 tags): `+` keeps it on the order's index, filtering its entries (4 ms; at worst one index scan).
  const pageFilter = s.filter === 'glob' && !pg && s.order !== 'name' ? filter('+t.name') : filter('t.name');
  let cursor = '';
  if (s.cursor && s.order === 'name') cursor = ` AND t.name ${cmp} @after`;
  else if (s.cursor) {
    // A deleted cursor tag has no push time: the list starts again (the name orders' keys come from the name).
    const edge = s.desc ? '9223372036854775807' : '-1';
    const at =
      s.order === 'pushed'
        ? `COALESCE((SELECT u.updated_at FROM tags u
             WHERE u.repo_id = (SELECT id FROM r) AND u.name = @after), ${edge})`
        : '@key';
    cursor = ` AND (${key}, t.name) ${cmp} (${at}, @after)`;
  }
  const orderBy = (k: string, n: string) => (s.order === 'name' ? `${n} ${dir}` : `${k} ${dir}, ${n} ${dir}`);
  const same = pg ? 'array_agg(s.name)' : 'json_group_array(s.name)';
  const matched =
    s.filter === 'all'
      ? 'NULL'
      : `(SELECT COUNT(*) FROM tags c WHERE c.repo_id = (SELECT id FROM r)${filter('c.name')})`;
  return `WITH r AS (SELECT id FROM repositories WHERE name = @repo),
    page AS (
      SELECT t.name, t.digest, t.updated_at AS pushed, ${key} AS k FROM tags t
      WHERE t.repo_id = (SELECT id FROM r)${pageFilter}${cursor}
      ORDER BY ${orderBy(key, 't.name')} LIMIT @limit
    )
    SELECT p.name, p.digest, p.pushed AS "pushedAt",
      (SELECT ${same} FROM tags s WHERE s.repo_id = (SELECT id FROM r) AND s.digest = p.digest) AS same,
      (SELECT COUNT(*) FROM tags c WHERE c.repo_id = (SELECT id FROM r)) AS total, ${matched} AS matched
    FROM r LEFT JOIN page p ON 1 = 1
    ORDER BY ${orderBy('p.k', 'p.name')}`;
}

/** `@name` parameters as PostgreSQL's `$1`, `$2`…: the text and the values in that order. */
export function positional(sql: string, params: Record<string, unknown>): { text: string; values: unknown[] } {
  const names: string[] = [];
  const text = sql.replace(/@([a-z]+)/g, (_, n: string) => {
    let i = names.indexOf(n);
    if (i < 0) i = names.push(n) - 1;
    return `$${i + 1}`;
  });
  return { text, values: names.map((n) => params[n]) };
}

/** The statement's rows as a page (null: no repository); `limit` is the query's (one more row was asked for). */
export function tagPageFrom(rows: TagPageRow[], limit: number): TagPage | null {
  const first = rows[0];
  if (first === undefined) return null;
  const tags = rows.flatMap((r) => {
    if (r.name === null) return [];
    const same = typeof r.same === 'string' ? (JSON.parse(r.same) as string[]) : (r.same ?? []);
    return [{ name: r.name, digest: r.digest!, pushedAt: r.pushedAt!, sameDigest: same.sort(compareBytewise) }];
  });
  const more = tags.length > limit;
  return { tags: more ? tags.slice(0, limit) : tags, more, total: first.total, matched: first.matched ?? first.total };
}
