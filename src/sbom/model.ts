import { PackageURL } from 'packageurl-js';

/** The package ecosystems the catalogers know. */
export type PackageType = 'deb' | 'apk' | 'rpm' | 'npm' | 'python' | 'go' | 'java';

/** The distribution an image runs, from /etc/os-release. */
export interface Distro {
  id: string;
  versionId?: string;
  versionCodename?: string;
  prettyName?: string;
  idLike?: string[];
}

/** One package found in an image. Every field is read from the package's own metadata; nothing is guessed. */
export interface SbomPackage {
  type: PackageType;
  name: string;
  version: string;
  purl: string;
  /** Licenses as found (SPDX identifiers or expressions where the metadata gives them, else the raw names). */
  licenses: string[];
  /** Index of the layer (bottom first) that introduced the package. */
  layer: number;
  /** Files the package was read from (absolute paths in the image). */
  locations: string[];
  /** Which cataloger found it. */
  foundBy: string;
  arch?: string;
  source?: { name: string; version?: string };
  maintainer?: string;
  installedSize?: number;
  /**
   * Names of packages of the same type this one states it depends on (resolved to packages of the image when written).
   */
  dependsOn?: string[];
  /** Virtual names this package provides (dpkg Provides, apk p:), which dependencies may name. */
  provides?: string[];
  /** Files the package owns, when asked for (`--files`). */
  files?: PackageFile[];
  description?: string;
  homepage?: string;
  /** Facts that have no field of their own (`go.version`). */
  properties?: Record<string, string>;
}

/** A file a package's metadata says it owns, with the checksums that metadata states (dpkg md5sums, apk `Z:`, rpm). */
export interface PackageFile {
  /** Absolute path in the image. */
  path: string;
  checksums?: { algorithm: 'MD5' | 'SHA1' | 'SHA256'; value: string }[];
}

/** What an image holds: its identity, distro, packages and what could not be read. */
export interface Sbom {
  image: {
    /** The name the image was asked for (a reference or a location). */
    name: string;
    /** The image manifest's digest. */
    digest: string;
    platform: { os: string; architecture: string; variant?: string };
    /** Layer identities (diff IDs), bottom first. */
    layers: string[];
  };
  distro?: Distro;
  packages: SbomPackage[];
  warnings: string[];
}

/** A PURL string (packageurl-js, which encodes names and qualifiers as the spec says). */
export function purl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string | undefined,
  qualifiers: Record<string, string | undefined> = {},
  subpath?: string,
): string {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(qualifiers)) if (v) q[k] = v;
  return new PackageURL(
    type,
    namespace ?? null,
    name,
    version ?? null,
    Object.keys(q).length ? q : null,
    subpath ?? null,
  ).toString();
}

/** The PURL `distro` qualifier: `<ID>-<VERSION_ID>` (e.g. debian-12, alpine-3.19.1). */
export function distroQualifier(d: Distro | undefined): string | undefined {
  if (!d) return undefined;
  return d.versionId ? `${d.id}-${d.versionId}` : d.id;
}

/** RFC-822-like stanzas (dpkg status, METADATA): blank-line separated, continuation lines start with a space or tab. */
export function parseStanzas(text: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let cur = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' && !line.startsWith(' ')) {
      if (cur.size) out.push(cur);
      cur = new Map();
      last = undefined;
      continue;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      cur.set(last, `${cur.get(last)}\n${line.slice(1)}`);
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i);
    const v = line.slice(i + 1).trim();
    // Keep the first value of repeated keys in the map (python's METADATA repeats Classifier, Requires-Dist).
    if (cur.has(last)) cur.set(`${last}\u0000${cur.size}`, v);
    else cur.set(last, v);
  }
  if (cur.size) out.push(cur);
  return out;
}

/** All values of a possibly repeated key of a stanza. */
export function allValues(s: Map<string, string>, key: string): string[] {
  const out: string[] = [];
  for (const [k, v] of s) if (k === key || k.startsWith(`${key}\u0000`)) out.push(v);
  return out;
}
