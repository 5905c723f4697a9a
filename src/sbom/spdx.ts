import { createHash, randomUUID } from 'node:crypto';
import { dependencyEdges } from './catalog.js';
import { spdxExpression } from './licenses.js';
import { purl, type Sbom, type SbomPackage } from './model.js';

export const KURA_VERSION = '0.1.0';

const SOURCE: Record<string, string> = {
  dpkg: 'acquired package info from DPKG DB',
  apk: 'acquired package info from APK DB',
  rpm: 'acquired package info from RPM DB',
  npm: 'acquired package info from installed node module manifest file',
  python: 'acquired package info from installed python package manifest file',
  'java-archive': 'acquired package info from the pom.properties of a java archive',
  'go-binary': 'acquired package info from the module build info of a go binary',
};

const idPart = (s: string) => s.replace(/[^A-Za-z0-9.-]+/g, '-').slice(0, 80);

/** A stable SPDX id for a package: its type, name and a hash of its PURL and evidence. */
function packageId(p: SbomPackage): string {
  const h = createHash('sha256').update(`${p.purl}\u0000${p.locations[0]}`).digest('hex').slice(0, 16);
  return `SPDXRef-Package-${p.type}-${idPart(p.name)}-${h}`;
}

/** The image's own PURL: `pkg:oci/<last name part>@<digest>?arch=…&repository_url=…` (PURL spec's oci type). */
export function imagePurl(sbom: Sbom): string {
  const name =
    sbom.image.name.includes('@sha256:') || sbom.image.name.startsWith('sha256:')
      ? sbom.image.name.split('@')[0]!
      : sbom.image.name.replace(/:[^/:]+$/, '');
  const last = (name.split('/').at(-1) || 'image').toLowerCase();
  return purl('oci', undefined, last.startsWith('sha256') ? 'image' : last, sbom.image.digest, {
    arch: sbom.image.platform.architecture,
  });
}

/** A license list as one SPDX expression; names that are not SPDX ids become LicenseRef-… (recorded in `refs`). */
function declared(licenses: string[], refs: Map<string, string>): string {
  if (!licenses.length) return 'NOASSERTION';
  const parts = licenses.map((l) => {
    const e = spdxExpression(l);
    if (e) return e.includes(' ') ? `(${e})` : e;
    const id = `LicenseRef-${idPart(l)}`;
    refs.set(id, l);
    return id;
  });
  return parts.length === 1 ? parts[0]!.replace(/^\((.*)\)$/, '$1') : parts.join(' AND ');
}

/**
 * The SPDX `files` of the packages (with `--files`): one File per path whose checksum the package metadata states (the
 * schema requires one), and `package CONTAINS file` for each package that owns it.
 */
function spdxFiles(packages: SbomPackage[], ids: string[]) {
  const files = new Map<string, { fileName: string; SPDXID: string; checksums: object[] }>();
  const contains: { spdxElementId: string; relatedSpdxElement: string; relationshipType: string }[] = [];
  packages.forEach((p, i) => {
    for (const f of p.files ?? []) {
      if (!f.checksums?.length) continue;
      let file = files.get(f.path);
      if (!file) {
        const h = createHash('sha256').update(f.path).digest('hex').slice(0, 16);
        file = {
          fileName: f.path,
          SPDXID: `SPDXRef-File-${idPart(f.path.split('/').at(-1)!)}-${h}`,
          checksums: f.checksums.map((c) => ({ algorithm: c.algorithm, checksumValue: c.value })),
          ...{ licenseConcluded: 'NOASSERTION', copyrightText: 'NOASSERTION' },
        };
        files.set(f.path, file);
      }
      contains.push({ spdxElementId: ids[i]!, relatedSpdxElement: file.SPDXID, relationshipType: 'CONTAINS' });
    }
  });
  return { files: [...files.values()], contains };
}

/**
 * SPDX 2.3 JSON (its published schema): the image as a CONTAINER package that CONTAINS every package found, and each
 * package the files it owns when they were asked for.
 */
export function toSpdx(sbom: Sbom, now = new Date()): object {
  const refs = new Map<string, string>();
  const rootId = `SPDXRef-DocumentRoot-Image-${idPart(sbom.image.digest)}`;
  const ids = sbom.packages.map(packageId);
  const packages = sbom.packages.map((p, i) => ({
    name: p.name,
    SPDXID: ids[i],
    versionInfo: p.version,
    supplier: p.maintainer ? `Person: ${p.maintainer.replace(/\s*<([^>]*)>\s*$/, ' ($1)')}` : 'NOASSERTION',
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    sourceInfo: `${SOURCE[p.foundBy] ?? 'acquired package info from'}: ${p.locations.join(', ')}`,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: declared(p.licenses, refs),
    copyrightText: 'NOASSERTION',
    ...(p.homepage && /^https?:\/\//.test(p.homepage) ? { homepage: p.homepage } : {}),
    ...(p.description ? { summary: p.description } : {}),
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
    ...(p.source
      ? { comment: `source package: ${p.source.name}${p.source.version ? ` ${p.source.version}` : ''}` }
      : {}),
    attributionTexts: [`layer: ${sbom.image.layers[p.layer] ?? p.layer}`],
  }));
  const root = {
    name: sbom.image.name,
    SPDXID: rootId,
    versionInfo: sbom.image.digest,
    supplier: 'NOASSERTION',
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    primaryPackagePurpose: 'CONTAINER',
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(sbom) }],
  };
  const owned = spdxFiles(sbom.packages, ids);
  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relatedSpdxElement: rootId, relationshipType: 'DESCRIBES' },
    ...ids.map((id) => ({ spdxElementId: rootId, relatedSpdxElement: id, relationshipType: 'CONTAINS' })),
    ...dependencyEdges(sbom.packages).map(([a, b]) => ({
      spdxElementId: ids[a]!,
      relatedSpdxElement: ids[b]!,
      relationshipType: 'DEPENDS_ON',
    })),
    ...owned.contains,
  ];
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: sbom.image.name,
    documentNamespace: `https://kura.invalid/spdxdocs/${encodeURIComponent(sbom.image.digest)}-${randomUUID()}`,
    creationInfo: {
      created: now.toISOString().replace(/\.\d+Z$/, 'Z'),
      creators: ['Organization: Kura', `Tool: kura-${KURA_VERSION}`],
    },
    ...(refs.size
      ? { hasExtractedLicensingInfos: [...refs].map(([licenseId, name]) => ({ licenseId, name, extractedText: name })) }
      : {}),
    packages: [root, ...packages],
    ...(owned.files.length ? { files: owned.files } : {}),
    relationships,
    ...(sbom.distro
      ? { comment: `distro: ${sbom.distro.id}${sbom.distro.versionId ? ` ${sbom.distro.versionId}` : ''}` }
      : {}),
  };
}
