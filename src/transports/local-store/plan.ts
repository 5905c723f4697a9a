import { isDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { familiar } from '../../oci/familiar.js';
import { parseImageReference } from '../../oci/imageref.js';
import { imageId, shortId } from './record.js';
import type { ImageRecord, ImageTable, StoredBlob } from './table.js';

/** A name as the store keys it: `registry/repository:tag`, or `registry/repository@digest` (tagged false). */
export function normalizeName(s: string): { name: string; repo: string; tagged: boolean } {
  const r = parseImageReference(s);
  const repo = `${r.registry}/${r.repository}`;
  return r.digest
    ? { name: `${repo}@${r.digest}`, repo, tagged: false }
    : { name: `${repo}:${r.tag}`, repo, tagged: true };
}

/** `registry/repository` of a stored name. */
export function repoOf(name: string): string {
  const at = name.indexOf('@');
  if (at >= 0) return name.slice(0, at);
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
}

export type ImageMatch =
  | { kind: 'name'; rec: ImageRecord; name: string; tagged: boolean }
  | { kind: 'id'; rec: ImageRecord };

/**
 * Finds an image the way docker does: by name first (`nginx`, `x:1`, `x@sha256:…`), then by full
 * image ID or manifest digest, then by a unique prefix of the image ID.
 */
export function findImage(t: ImageTable, term: string): ImageMatch | undefined {
  let n: ReturnType<typeof normalizeName> | undefined;
  try {
    n = normalizeName(term);
  } catch {
    n = undefined;
  }
  if (n) {
    const { name, tagged } = n;
    const rec = t.images.find((r) => (tagged ? r.names : r.repoDigests).includes(name));
    if (rec) return { kind: 'name', rec, name, tagged };
  }
  if (isDigest(term)) {
    const rec = t.images.find((r) => imageId(r) === term) ?? t.images.find((r) => r.digest === term);
    return rec && { kind: 'id', rec };
  }
  const prefix = /^(?:sha256:)?([0-9a-f]{1,64})$/.exec(term)?.[1];
  if (!prefix) return undefined;
  const hits = t.images.filter((r) =>
    imageId(r)
      .slice(imageId(r).indexOf(':') + 1)
      .startsWith(prefix),
  );
  const ids = new Set(hits.map(imageId));
  if (ids.size > 1)
    throw new OciError(
      'NAME_INVALID',
      `the image ID prefix ${term} matches ${ids.size} images; type more of it (kura images --no-trunc)`,
    );
  return hits[0] && { kind: 'id', rec: hits[0] };
}

/** A line of `kura rmi` / `kura image prune` output: a name removed, or an image deleted (by ID). */
export type DeleteItem = { untagged: string } | { deleted: Digest };

/**
 * Docker's `rmi` on the table, in place. A name is untagged (with the digest references of its
 * repository once its last tag there goes); the image goes when no reference is left. An image ID
 * deletes the image with all its names, but only with `force` when they span several repositories.
 */
export function removeFromTable(
  t: ImageTable,
  term: string,
  force: boolean,
): { items: DeleteItem[]; removed: ImageRecord[] } {
  const m = findImage(t, term);
  if (!m) throw new OciError('MANIFEST_UNKNOWN', `no such image: ${term} (see kura images)`);
  const rec = m.rec;
  const items: DeleteItem[] = [];
  if (m.kind === 'name') {
    items.push({ untagged: familiar(m.name) });
    if (m.tagged) {
      rec.names = rec.names.filter((x) => x !== m.name);
      const repo = repoOf(m.name);
      if (!rec.names.some((x) => repoOf(x) === repo)) {
        for (const d of rec.repoDigests.filter((x) => repoOf(x) === repo)) items.push({ untagged: familiar(d) });
        rec.repoDigests = rec.repoDigests.filter((x) => repoOf(x) !== repo);
      }
    } else rec.repoDigests = rec.repoDigests.filter((x) => x !== m.name);
    if (rec.names.length || rec.repoDigests.length) return { items, removed: [] };
  } else {
    const repos = new Set([...rec.names, ...rec.repoDigests].map(repoOf));
    if (repos.size > 1 && !force) {
      throw new Error(
        `conflict: unable to delete ${shortId(imageId(rec))} (must be forced) - image is referenced in multiple ` +
          `repositories; use -f, or remove its names one by one (kura rmi NAME)`,
      );
    }
    return { items: dropImage(t, rec), removed: [rec] };
  }
  t.images = t.images.filter((r) => r !== rec);
  items.push({ deleted: imageId(rec) });
  return { items, removed: [rec] };
}

/** Deletes an image from the table with every name it has; the lines docker prints for it. */
export function dropImage(t: ImageTable, rec: ImageRecord): DeleteItem[] {
  t.images = t.images.filter((r) => r !== rec);
  return [...[...rec.names, ...rec.repoDigests].map((x) => ({ untagged: familiar(x) })), { deleted: imageId(rec) }];
}

/** How many images reference each blob. */
export function blobRefs(images: readonly ImageRecord[]): Map<Digest, number> {
  const refs = new Map<Digest, number>();
  for (const r of images) for (const b of r.blobs) refs.set(b.digest, (refs.get(b.digest) ?? 0) + 1);
  return refs;
}

/** Blobs of `removed` images that no image of `remaining` references. */
export function freedBlobs(removed: readonly ImageRecord[], remaining: readonly ImageRecord[]): StoredBlob[] {
  const kept = blobRefs(remaining);
  const out = new Map<Digest, StoredBlob>();
  for (const r of removed) for (const b of r.blobs) if (!kept.has(b.digest)) out.set(b.digest, b);
  return [...out.values()];
}

/** A docker label filter: `label=k`, `label=k=v`, `label!=k`, `label!=k=v`. */
export interface LabelFilter {
  key: string;
  value?: string;
  negate: boolean;
}

export interface PruneOptions {
  /** Every image, not only dangling ones (`-a`). */
  all?: boolean;
  /** Only images created before this time (`--filter until=`). */
  until?: Date;
  labels?: LabelFilter[];
  /** Stop once the store holds at most this many bytes; least recently added images go first. */
  keepStorage?: number;
}

/** What a prune removes: the images, the blobs no remaining image needs, and their bytes. */
export interface PrunePlan {
  images: ImageRecord[];
  blobs: StoredBlob[];
  reclaimed: number;
}

const hasLabel = (r: ImageRecord, f: LabelFilter) =>
  f.value === undefined ? f.key in r.labels : r.labels[f.key] === f.value;

/** Docker's prune selection, computed before anything is deleted (plan, then apply). */
export function planPrune(t: ImageTable, opts: PruneOptions = {}): PrunePlan {
  const want = (opts.labels ?? []).filter((f) => !f.negate);
  const not = (opts.labels ?? []).filter((f) => f.negate);
  let chosen = t.images.filter(
    (r) =>
      (opts.all || r.names.length === 0) &&
      (!opts.until || new Date(r.created ?? r.added).getTime() < opts.until.getTime()) &&
      want.every((f) => hasLabel(r, f)) &&
      !(not.length && not.every((f) => hasLabel(r, f))),
  );
  if (opts.keepStorage !== undefined) {
    const refs = blobRefs(t.images);
    let remaining = totalSize(t.images);
    const picked: ImageRecord[] = [];
    for (const r of [...chosen].sort((a, b) => a.added.localeCompare(b.added))) {
      if (remaining <= opts.keepStorage) break;
      picked.push(r);
      for (const b of r.blobs) {
        const n = refs.get(b.digest)! - 1;
        refs.set(b.digest, n);
        if (n === 0) remaining -= b.size;
      }
    }
    chosen = picked;
  }
  const gone = new Set(chosen);
  const blobs = freedBlobs(
    chosen,
    t.images.filter((r) => !gone.has(r)),
  );
  return { images: chosen, blobs, reclaimed: blobs.reduce((s, b) => s + b.size, 0) };
}

/** Bytes on disk of a set of images, each blob counted once. */
export function totalSize(images: readonly ImageRecord[]): number {
  const seen = new Map<Digest, number>();
  for (const r of images) for (const b of r.blobs) seen.set(b.digest, b.size);
  let n = 0;
  for (const s of seen.values()) n += s;
  return n;
}

export interface ImageUsage {
  image: ImageRecord;
  /** Bytes of this image's blobs (layers as stored, config, manifests). */
  size: number;
  /** Bytes of its blobs that another image references too. */
  sharedSize: number;
  /** size − sharedSize: what deleting this image alone frees. */
  uniqueSize: number;
}

/** `system df` for images: ACTIVE are images with a tag; RECLAIMABLE is what pruning dangling ones frees. */
export interface DiskUsage {
  total: number;
  active: number;
  size: number;
  reclaimable: number;
  images: ImageUsage[];
}

/** Disk usage from real blob sharing: a blob is shared when two or more images reference it. */
export function diskUsage(t: ImageTable): DiskUsage {
  const refs = blobRefs(t.images);
  const images = t.images.map((image) => {
    const sharedSize = image.blobs.filter((b) => refs.get(b.digest)! > 1).reduce((s, b) => s + b.size, 0);
    return { image, size: image.size, sharedSize, uniqueSize: image.size - sharedSize };
  });
  return {
    total: t.images.length,
    // docker counts images that containers use as active; nothing runs containers here.
    active: 0,
    size: totalSize(t.images),
    // What `image prune -a` frees, as docker's RECLAIMABLE is what no container holds.
    reclaimable: planPrune(t, { all: true }).reclaimed,
    images,
  };
}
