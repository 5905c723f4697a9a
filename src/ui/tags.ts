// The tags page's data: every tag (name, digest, push time) from one query, filtered, sorted (name, natural,
// semver, push time; the natural and semver keys cached by name), cut at a keyset cursor; the shown manifests'
// types, last pulls and sizes from a second query, their vulnerability counts from a third.
import type { ManifestSize, MetadataStore, TagDetail, TagEntry } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';
import { isIndexMediaType, MediaTypes } from '../oci/mediatypes.js';
import { nameFilter, naturalKey, semverKey } from './format.js';
import { worstLine } from './scan-counts.js';

export const TAG_SORTS = ['name', '-name', 'natural', '-natural', 'semver', '-semver', 'pushed', '-pushed'] as const;
export type TagSort = (typeof TAG_SORTS)[number];
export const PAGE_SIZES = [50, 100, 500, 1000] as const;

export interface TagQuery {
  /** Substring, or a glob with `*` / `?`. */
  q: string;
  sort: TagSort;
  /** The last tag of the previous page (keyset cursor), or null for the first page. */
  after: string | null;
  n: number;
}

export type Kind = 'image' | 'index' | 'artifact';

export interface TagRow extends TagDetail {
  kind: Kind;
  /** Every tag on this row's digest (itself included), by name: what deleting the manifest removes. */
  sameDigest: string[];
  /** Manifest + config + layers; for an index, the sum over its child manifests. */
  size: number | null;
  /** Index children counted (platforms and attestations). */
  children: number;
  /** Vulnerability counts of the scan ("2 critical, 1 high"; an index: its worst image), or why there are none. */
  vulns: string;
}

export interface TagsPage {
  rows: TagRow[];
  /** Cursor of the next page, or null at the end. */
  next: string | null;
  /** Tags in the repository, and those the filter kept. */
  total: number;
  matched: number;
}

const IMAGE_CONFIGS = new Set<string>([MediaTypes.OciConfig, MediaTypes.DockerConfig]);

export function kindOf(mediaType: string, artifactType: string | null): Kind {
  if (isIndexMediaType(mediaType)) return 'index';
  return artifactType === null || IMAGE_CONFIGS.has(artifactType) ? 'image' : 'artifact';
}

/** Sort keys of tag names kept across requests (a name's key never changes), up to KEY_CACHE names per order. */
const KEY_CACHE = 250_000;

function cachedKey(of: (name: string) => string): (t: TagEntry) => string {
  const cache = new Map<string, string>();
  return (t) => {
    let k = cache.get(t.name);
    if (k === undefined) {
      if (cache.size >= KEY_CACHE) cache.clear();
      k = of(t.name);
      cache.set(t.name, k);
    }
    return k;
  };
}

const KEYS: Record<string, (t: TagEntry) => string | number> = {
  name: (t) => t.name,
  natural: cachedKey(naturalKey),
  semver: cachedKey(semverKey),
  pushed: (t) => t.pushedAt,
};

/** Sorts by a key computed once per tag (not per comparison), ties by name; `-` reverses. */
export function sortTags<T extends TagEntry>(tags: T[], sort: TagSort): T[] {
  const desc = sort.startsWith('-');
  const key = KEYS[desc ? sort.slice(1) : sort]!;
  const keyed = tags.map((t) => ({ t, k: key(t) }));
  const cmp = (a: { t: T; k: string | number }, b: { t: T; k: string | number }) =>
    a.k < b.k ? -1 : a.k > b.k ? 1 : a.t.name < b.t.name ? -1 : a.t.name > b.t.name ? 1 : 0;
  keyed.sort(desc ? (a, b) => cmp(b, a) : cmp);
  return keyed.map((x) => x.t);
}

/** Sizes per asked digest: an image's own total, or an index's sum over its children. */
export function totals(rows: ManifestSize[]): Map<Digest, { size: number; children: number; scanned: Digest[] }> {
  const out = new Map<Digest, { size: number; children: number; scanned: Digest[] }>();
  for (const r of rows) {
    if (r.parent === null) out.set(r.digest, { size: r.size + r.blobBytes, children: 0, scanned: [r.digest] });
  }
  for (const r of rows) {
    if (r.parent === null) continue;
    const t = out.get(r.parent)!;
    // The index's own bytes are replaced by its children's: an index is only as big as what it lists.
    if (t.children === 0) [t.size, t.scanned] = [0, []];
    t.size += r.size + r.blobBytes;
    t.scanned.push(r.digest);
    t.children++;
  }
  return out;
}

/**
 * One page of tags; null when the repository is unknown. Three statements: every tag's name, digest and push
 * time (sorted and filtered here); the manifests of the page (types, last pull, sizes); their scans.
 */
export async function tagsPage(meta: MetadataStore, repo: string, query: TagQuery): Promise<TagsPage | null> {
  const all = await meta.manifests.tagList(repo);
  if (all === null) return null;
  const keep = nameFilter(query.q);
  const matched = sortTags(query.q ? all.filter((t) => keep(t.name)) : all, query.sort);
  let start = 0;
  if (query.after !== null) {
    const i = matched.findIndex((t) => t.name === query.after);
    start = i + 1;
  }
  const shown = matched.slice(start, start + query.n);
  // The tags on each shown digest (what deleting its manifest removes), from one pass over all tags.
  const byDigest = new Map<Digest, string[]>(shown.map((t) => [t.digest, []]));
  for (const t of all) byDigest.get(t.digest)?.push(t.name);
  const sizeRows = await meta.manifests.sizes(repo, [...byDigest.keys()]);
  const own = new Map(sizeRows.flatMap((r) => (r.parent === null ? [[r.digest, r] as const] : [])));
  const sizes = totals(sizeRows);
  const scanned = [...new Set([...sizes.values()].flatMap((s) => s.scanned))];
  const scans = new Map((await meta.scans.summaries(scanned)).map((s) => [s.digest, s]));
  const vulns = (d: Digest) => {
    const of = sizes.get(d)?.scanned ?? [];
    return worstLine(
      of.flatMap((c) => scans.get(c) ?? []),
      'images',
    );
  };
  // A manifest deleted between the statements leaves its tags out of this page.
  const rows = shown.flatMap((t) => {
    const m = own.get(t.digest);
    if (!m) return [];
    const row: TagRow = {
      ...t,
      mediaType: m.mediaType,
      artifactType: m.artifactType,
      pulledAt: m.pulledAt,
      kind: kindOf(m.mediaType, m.artifactType),
      sameDigest: byDigest.get(t.digest)!.sort(),
      size: sizes.get(t.digest)!.size,
      children: sizes.get(t.digest)!.children,
      vulns: vulns(t.digest),
    };
    return [row];
  });
  const next = start + query.n < matched.length ? (shown.at(-1)?.name ?? null) : null;
  return { rows, next, total: all.length, matched: matched.length };
}
