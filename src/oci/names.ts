import { OciError } from './errors.js';
import { parseDigest, type Digest } from './digest.js';

/** Repository name grammar of the distribution spec (path components separated by "/"). */
const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Distribution keeps host + "/" + name under 255 characters. */
export const MAX_NAME_LENGTH = 255;

export function isRepositoryName(s: string): boolean {
  return s.length > 0 && s.length <= MAX_NAME_LENGTH && NAME_RE.test(s);
}

export function isTag(s: string): boolean {
  return TAG_RE.test(s);
}

export function parseRepositoryName(s: string): string {
  if (!isRepositoryName(s)) {
    throw new OciError('NAME_INVALID', `invalid repository name "${s.slice(0, 300)}"`, { name: s.slice(0, 300) });
  }
  return s;
}

export function parseTag(s: string): string {
  if (!isTag(s)) throw new OciError('TAG_INVALID', `invalid tag "${s.slice(0, 200)}"`, { tag: s.slice(0, 200) });
  return s;
}

/** A manifest reference in a URL: a digest or a tag, one of the two. */
export interface Reference {
  tag?: string;
  digest?: Digest;
}

/** Parses a manifest reference (a digest when it holds ':', else a tag); MANIFEST_INVALID otherwise. */
export function parseReference(reference: string): Reference {
  if (reference.includes(':')) return { digest: parseDigest(reference) };
  if (!isTag(reference)) throw new OciError('MANIFEST_INVALID', `invalid tag or digest "${reference.slice(0, 200)}"`);
  return { tag: reference };
}
