/**
 * From an SBOM package to the OSV package it is published under: distro packages by source package and release
 * (`Debian:12`, `Ubuntu:22.04`, `Alpine:v3.19`, `Rocky Linux:9`, …), language packages by their normalised name.
 */
import type { Distro, SbomPackage } from '../sbom/model.js';

/** What to look up for one package: ecosystems (exact names, or prefixes ending in `:`), a name and a version. */
export interface OsvQuery {
  ecosystems: string[];
  name: string;
  version: string;
}

/** A package name as an ecosystem compares names: PEP 503 for PyPI, lower case where the registry ignores case. */
export function normalizeName(ecosystem: string, name: string): string {
  const base = ecosystem.split(':')[0]!;
  if (base === 'PyPI') return name.toLowerCase().replace(/[-_.]+/g, '-');
  if (base === 'npm' || base === 'Go' || base === 'Maven') return name;
  // Distro package names are lower case by policy; records sometimes are not.
  return name.toLowerCase();
}

/** The ecosystem base of an OSV ecosystem string (`Debian:12` → `Debian`). */
export const ecosystemBase = (ecosystem: string) => ecosystem.split(':')[0]!;

const major = (v: string | undefined) => v?.split('.')[0];

/** The OSV ecosystems of an image's distro packages; empty when the release is not known (nothing is guessed). */
export function distroEcosystems(d: Distro | undefined): string[] {
  if (!d?.versionId) return [];
  const id = d.id.toLowerCase();
  switch (id) {
    case 'debian':
      return [`Debian:${major(d.versionId)}`];
    case 'ubuntu':
      // OSV names LTS releases `Ubuntu:22.04:LTS`, others `Ubuntu:23.10`.
      return [`Ubuntu:${d.versionId}`, `Ubuntu:${d.versionId}:LTS`];
    case 'alpine': {
      const [a, b] = d.versionId.split('.');
      return [`Alpine:v${a}.${b}`];
    }
    case 'rocky':
      return [`Rocky Linux:${major(d.versionId)}`];
    case 'almalinux':
      return [`AlmaLinux:${major(d.versionId)}`];
    case 'rhel':
      // Red Hat's OSV ecosystems name a product stream (`Red Hat:enterprise_linux:9::baseos`): matched by prefix.
      return [`Red Hat:enterprise_linux:${major(d.versionId)}:`];
    default:
      return [];
  }
}

/** The OSV query for one package of an image, or undefined when Kura cannot place it in an ecosystem. */
export function queryFor(p: SbomPackage, distro: Distro | undefined): OsvQuery | undefined {
  switch (p.type) {
    case 'deb': {
      const ecosystems = distroEcosystems(distro);
      // Debian and Ubuntu publish per source package, with the source version (a binNMU's +bN is not in it).
      return ecosystems.length
        ? { ecosystems, name: p.source?.name ?? p.name, version: p.source?.version ?? p.version }
        : undefined;
    }
    case 'apk': {
      const ecosystems = distroEcosystems(distro);
      return ecosystems.length ? { ecosystems, name: p.source?.name ?? p.name, version: p.version } : undefined;
    }
    case 'rpm': {
      const ecosystems = distroEcosystems(distro);
      // Red Hat, Rocky and Alma advisories list binary packages.
      return ecosystems.length ? { ecosystems, name: p.name, version: p.version } : undefined;
    }
    case 'npm':
      return { ecosystems: ['npm'], name: p.name, version: p.version };
    case 'python':
      return { ecosystems: ['PyPI'], name: p.name, version: p.version };
    case 'go':
      return { ecosystems: ['Go'], name: p.name, version: p.version };
    case 'java': {
      const group = p.properties?.['maven.groupId'];
      return group ? { ecosystems: ['Maven'], name: `${group}:${p.name}`, version: p.version } : undefined;
    }
    default:
      return undefined;
  }
}
