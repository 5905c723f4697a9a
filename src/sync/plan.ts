/** The plan of a sync: which source images go to which destination names, as skopeo sync names them. */
import { posix } from 'node:path';
import semver from 'semver';
import { formatImageReference, parseImageReference, type ImageReference } from '../oci/imageref.js';
import type { SyncSource } from './sources.js';

/** Where a sync writes: repositories under `HOST/PREFIX`, or one OCI layout per repository under a directory. */
export type SyncDestination = { transport: 'docker'; base: string } | { transport: 'oci'; dir: string };

/** One image to sync: its source and where it goes. */
export interface SyncItem {
  source: SyncSource;
  /** A tag or digest of the source repository. */
  ref: string;
  /** The destination: a registry reference, or a layout directory and the tag (or digest) inside it. */
  to: { transport: 'docker'; image: ImageReference } | { transport: 'oci'; dir: string; ref: string };
}

/** cosign and referrers-tag-schema tags: not synced as images; they travel with the image they are attached to. */
export const ATTACHED_TAG = /^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

/** `REG/REPO:TAG` or `REG/REPO@DIGEST` of a source image. */
export function sourceName(s: SyncSource, ref: string): string {
  return `${s.registry}/${s.repository}${ref.includes(':') ? '@' : ':'}${ref}`;
}

/**
 * skopeo's naming: the destination receives the source's last path part (`REG/ns/name:tag` →
 * `BASE/name:tag`), or with `scoped` its whole name (`BASE/REG/ns/name:tag`). A registry with a port
 * makes no valid scoped repository name: that is an error, as in skopeo.
 */
export function destinationOf(s: SyncSource, ref: string, dest: SyncDestination, scoped: boolean): SyncItem['to'] {
  const repo = scoped ? `${s.registry}/${s.repository}` : posix.basename(s.repository);
  if (dest.transport === 'oci') return { transport: 'oci', dir: posix.join(dest.dir, repo), ref };
  const name = `${posix.join(dest.base, repo)}${ref.includes(':') ? '@' : ':'}${ref}`;
  try {
    return { transport: 'docker', image: parseImageReference(name) };
  } catch (e) {
    const hint = scoped && s.registry.includes(':') ? ' (--scoped cannot keep a registry name with a port)' : '';
    throw new Error(
      `${sourceName(s, ref)} would go to ${name}, not a valid image name${hint}: ${(e as Error).message}`,
    );
  }
}

/** The display form of a destination. */
export function destinationName(to: SyncItem['to']): string {
  return to.transport === 'docker' ? formatImageReference(to.image) : `oci:${to.dir}:${to.ref}`;
}

/**
 * A tag as a semantic version the way skopeo reads one (Masterminds' NewVersion): an optional `v`,
 * one to three numbers, an optional pre-release and build; `1.2` is 1.2.0. Anything else is no version.
 */
export function tagVersion(tag: string): string | undefined {
  const m = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.exec(tag);
  if (!m) return undefined;
  return semver.valid(`${m[1]}.${m[2] ?? 0}.${m[3] ?? 0}${m[4] ?? ''}${m[5] ?? ''}`) ?? undefined;
}

/** A Masterminds constraint (`>= 1.2, < 2`, `~1.2`, `^1`, `1.x`, `a || b`) as an npm semver range, or an error. */
export function semverRange(constraint: string): string {
  const range = semver.validRange(constraint.replace(/,/g, ' '));
  if (range === null) throw new Error(`"${constraint}" is not a semver constraint (e.g. ">= 1.2, < 2" or "~1.4")`);
  return range;
}

/** The refs of one source to sync, given its tags (listed only when the source names none). */
export function selectRefs(s: SyncSource, tags: string[] | undefined): string[] {
  if (s.refs) return s.refs;
  const all = (tags ?? []).filter((t) => !ATTACHED_TAG.test(t));
  if (s.tagRegex) {
    const re = s.tagRegex;
    return all.filter((t) => re.test(t));
  }
  if (s.semver) {
    const range = semverRange(s.semver);
    return all.filter((t) => {
      const v = tagVersion(t);
      return v !== undefined && semver.satisfies(v, range);
    });
  }
  return all;
}
