/** Version ordering per OSV ecosystem: one entry, `compareVersions(ecosystem, a, b)`, each exactly as the ecosystem's tool. */
import { compareApk } from './apk.js';
import { compareDpkg } from './dpkg.js';
import { InvalidVersionError } from './errors.js';
import { compareMaven } from './maven.js';
import { comparePep440 } from './pep440.js';
import { compareRpm } from './rpm.js';
import { compareGo, compareNpm } from './semver.js';

export { InvalidVersionError } from './errors.js';

/** The version schemes Kura orders. */
export type VersionScheme = 'dpkg' | 'rpm' | 'apk' | 'npm' | 'pep440' | 'go' | 'maven' | 'semver';

const COMPARE: Record<VersionScheme, (a: string, b: string) => number> = {
  dpkg: compareDpkg,
  rpm: compareRpm,
  apk: compareApk,
  npm: compareNpm,
  pep440: comparePep440,
  go: compareGo,
  maven: compareMaven,
  semver: compareNpm,
};

/**
 * The scheme of an OSV ecosystem name (`Debian:12`, `Alpine:v3.19`, `npm`, …), by its part before the colon;
 * undefined for ecosystems Kura cannot order.
 */
export function schemeOf(ecosystem: string): VersionScheme | undefined {
  const base = ecosystem.split(':')[0]!;
  switch (base) {
    case 'Debian':
    case 'Ubuntu':
      return 'dpkg';
    case 'Alpine':
    case 'Wolfi':
    case 'Chainguard':
      return 'apk';
    case 'Red Hat':
    case 'Rocky Linux':
    case 'AlmaLinux':
    case 'openSUSE':
    case 'SUSE':
      return 'rpm';
    case 'npm':
      return 'npm';
    case 'PyPI':
      return 'pep440';
    case 'Go':
      return 'go';
    case 'Maven':
      return 'maven';
    default:
      return undefined;
  }
}

/**
 * Compares two versions of an OSV ecosystem: negative, zero or positive. Throws InvalidVersionError for a version
 * the scheme cannot read, and for an ecosystem Kura has no ordering for.
 */
export function compareVersions(ecosystem: string, a: string, b: string): number {
  const scheme = schemeOf(ecosystem) ?? (ecosystem === 'SEMVER' ? 'semver' : undefined);
  if (!scheme) throw new InvalidVersionError(ecosystem, a);
  return compareScheme(scheme, a, b);
}

/** Compares two versions of one scheme (see compareVersions). */
export function compareScheme(scheme: VersionScheme, a: string, b: string): number {
  try {
    const r = COMPARE[scheme](a, b);
    return r < 0 ? -1 : r > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof InvalidVersionError) throw e;
    // semver throws TypeError("Invalid Version: x"): name the version that is wrong.
    const readable = (v: string) => {
      try {
        COMPARE[scheme](v, v);
        return true;
      } catch {
        return false;
      }
    };
    throw new InvalidVersionError(scheme, readable(a) ? b : a);
  }
}
