/** npm (node-semver, prereleases included) and Go module versions (`v` prefix, pseudo-versions, +incompatible). */
import semver from 'semver';

/** Compares two npm versions as node-semver does (loose parsing: a leading `v` or `=` is allowed). */
export function compareNpm(a: string, b: string): number {
  return semver.compare(a, b, { loose: true });
}

/**
 * A Go module version as semver: the `v` dropped, `v1`/`v1.2` shorthands completed (golang.org/x/mod/semver),
 * build metadata such as `+incompatible` ignored in comparisons; pseudo-versions are ordinary prereleases.
 */
function goSemver(v: string): string {
  const s = v.startsWith('v') ? v.slice(1) : v;
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$/.exec(s);
  if (!m) return s;
  return `${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}${m[4]}`;
}

/** Compares two Go module versions (with or without the `v`): negative, zero or positive. */
export function compareGo(a: string, b: string): number {
  return semver.compare(goSemver(a), goSemver(b));
}
