/**
 * SBOM files from any tool (SPDX 2.3 JSON, CycloneDX JSON) as scan input: packages are read from their PURLs
 * (type, namespace, name, version; `upstream` for the source package, `distro` for the release), as syft and
 * Kura write them. The layer of a package is not known from a file (-1).
 */
import { PackageURL } from 'packageurl-js';
import type { Distro, PackageType, Sbom, SbomPackage } from '../sbom/model.js';

const TYPES: Record<string, PackageType> = {
  deb: 'deb',
  apk: 'apk',
  alpm: 'apk',
  rpm: 'rpm',
  npm: 'npm',
  pypi: 'python',
  golang: 'go',
  maven: 'java',
};

/** `debian-12` → {id: debian, versionId: 12}; `alpine-3.19.1`; `ubuntu-22.04`; `rocky-9.3`. */
function distroOf(q: string | undefined): Distro | undefined {
  const m = q ? /^([a-z]+)-(\d[\w.]*)$/.exec(q.toLowerCase()) : null;
  return m ? { id: m[1]!, versionId: m[2]! } : undefined;
}

function fromPurl(text: string): SbomPackage | undefined {
  let p: PackageURL;
  try {
    p = PackageURL.fromString(text);
  } catch {
    return undefined;
  }
  const type = TYPES[p.type];
  if (!type || !p.version) return undefined;
  const q = (p.qualifiers ?? {}) as Record<string, string>;
  const pkg: SbomPackage = {
    type,
    name:
      type === 'npm' && p.namespace
        ? `${p.namespace}/${p.name}`
        : type === 'go' && p.namespace
          ? `${p.namespace}/${p.name}`
          : p.name,
    version: type === 'rpm' && q.epoch ? `${q.epoch}:${p.version}` : p.version,
    purl: text,
    licenses: [],
    layer: -1,
    locations: [],
    foundBy: 'sbom-file',
  };
  if (type === 'java' && p.namespace) pkg.properties = { 'maven.groupId': p.namespace };
  if (q.upstream && type !== 'rpm') {
    const at = q.upstream.indexOf('@');
    pkg.source = at > 0 ? { name: q.upstream.slice(0, at), version: q.upstream.slice(at + 1) } : { name: q.upstream };
  }
  return pkg;
}

/** The packages and distro of an SPDX 2.3 or CycloneDX JSON document; throws saying which formats are read. */
export function readSbomFile(text: string, file: string): Pick<Sbom, 'packages' | 'distro' | 'warnings'> {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${file}: not JSON; give an SPDX 2.3 or CycloneDX JSON SBOM (kura sbom --format spdx-json)`);
  }
  const purls: string[] = [];
  if (typeof doc.spdxVersion === 'string') {
    for (const p of (doc.packages ?? []) as {
      externalRefs?: { referenceType?: string; referenceLocator?: string }[];
    }[])
      for (const r of p.externalRefs ?? [])
        if (r.referenceType === 'purl' && r.referenceLocator) purls.push(r.referenceLocator);
  } else if (doc.bomFormat === 'CycloneDX') {
    const walk = (cs: unknown) => {
      for (const c of (cs ?? []) as { purl?: string; components?: unknown }[]) {
        if (c.purl) purls.push(c.purl);
        walk(c.components);
      }
    };
    walk(doc.components);
  } else {
    throw new Error(
      `${file}: neither SPDX (spdxVersion) nor CycloneDX (bomFormat); give an SPDX 2.3 or CycloneDX JSON SBOM`,
    );
  }
  const warnings: string[] = [];
  const packages: SbomPackage[] = [];
  let distro: Distro | undefined;
  for (const text of purls) {
    const p = fromPurl(text);
    if (!p) continue;
    packages.push(p);
    const d = distroOf((PackageURL.fromString(text).qualifiers as Record<string, string> | undefined)?.distro);
    if (d && ['deb', 'apk', 'rpm'].includes(p.type)) {
      if (distro && (distro.id !== d.id || distro.versionId !== d.versionId))
        warnings.push(
          `${file}: packages name two distros (${distro.id}-${distro.versionId}, ${d.id}-${d.versionId}); ` +
            'using the first',
        );
      else distro = d;
    }
  }
  return { packages, distro, warnings: [...new Set(warnings)] };
}
