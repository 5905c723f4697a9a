import { isRepositoryName } from '../oci/names.js';
import { OciError } from '../oci/errors.js';

/** A /v2 path parsed from the right, since repository names contain "/" (a repo may be called x/manifests/y). */
export type V2Route =
  | { kind: 'tags'; repo: string }
  | { kind: 'manifest'; repo: string; reference: string }
  | { kind: 'blob'; repo: string; digest: string }
  | { kind: 'uploads'; repo: string }
  | { kind: 'upload'; repo: string; id: string }
  | { kind: 'referrers'; repo: string; digest: string };

function repoOf(segs: string[], drop: number): string {
  const name = segs.slice(0, segs.length - drop).join('/');
  if (!isRepositoryName(name)) {
    throw new OciError('NAME_INVALID', `invalid repository name "${name.slice(0, 300)}"`, { name: name.slice(0, 300) });
  }
  return name;
}

/** Parses the part of a raw (undecoded) URL path after "/v2/". Null when it is no known route. */
export function parseV2Path(rest: string): V2Route | null {
  const segs = rest.split('/');
  const n = segs.length;
  if (n < 2) return null;
  const last = segs[n - 1]!;
  const prev = segs[n - 2]!;
  if (n >= 3 && prev === 'tags' && last === 'list') return { kind: 'tags', repo: repoOf(segs, 2) };
  if (n >= 3 && prev === 'blobs' && last === 'uploads') return { kind: 'uploads', repo: repoOf(segs, 2) };
  if (n >= 4 && segs[n - 3] === 'blobs' && prev === 'uploads') {
    if (last === '') return { kind: 'uploads', repo: repoOf(segs, 3) };
    return { kind: 'upload', repo: repoOf(segs, 3), id: last };
  }
  if (last === '') return null;
  if (prev === 'manifests') return { kind: 'manifest', repo: repoOf(segs, 2), reference: last };
  if (prev === 'blobs') return { kind: 'blob', repo: repoOf(segs, 2), digest: last };
  if (prev === 'referrers') return { kind: 'referrers', repo: repoOf(segs, 2), digest: last };
  return null;
}
