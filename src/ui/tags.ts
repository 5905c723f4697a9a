// The tags page's data: one page of tags in order from the metadata store (read through stored sort keys, with
// the tags sharing each one's digest and the counts), the shown manifests' types, last pulls and sizes from a
// second statement, their vulnerability counts from a third.
import type { ManifestSize, MetadataStore, TagDetail } from '../metadata/types.js';
import type { TagSort } from '../metadata/tag-keys.js';
import type { Digest } from '../oci/digest.js';
import { isIndexMediaType, MediaTypes } from '../oci/mediatypes.js';
import { worstLine } from './scan-counts.js';

export { sortTags, TAG_SORTS, type TagSort } from '../metadata/tag-keys.js';
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
 * One page of tags; null when the repository is unknown. Three statements: the page of tags (in order, after
 * the cursor, with the tags on their digests and the counts); the page's manifests (types, last pull, sizes);
 * their scans.
 */
export async function tagsPage(meta: MetadataStore, repo: string, query: TagQuery): Promise<TagsPage | null> {
  const page = await meta.manifests.tagPage(repo, { sort: query.sort, after: query.after, limit: query.n, q: query.q });
  if (page === null) return null;
  const shown = page.tags;
  const byDigest = new Map<Digest, string[]>(shown.map((t) => [t.digest, t.sameDigest]));
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
  const rows = shown.flatMap(({ sameDigest, ...t }) => {
    const m = own.get(t.digest);
    if (!m) return [];
    const row: TagRow = {
      ...t,
      mediaType: m.mediaType,
      artifactType: m.artifactType,
      pulledAt: m.pulledAt,
      kind: kindOf(m.mediaType, m.artifactType),
      sameDigest: [...sameDigest].sort(),
      size: sizes.get(t.digest)!.size,
      children: sizes.get(t.digest)!.children,
      vulns: vulns(t.digest),
    };
    return [row];
  });
  const next = page.more ? (shown.at(-1)?.name ?? null) : null;
  return { rows, next, total: page.total, matched: page.matched };
}
