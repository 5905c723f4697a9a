import { randomUUID } from 'node:crypto';
import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import { dependencyEdges } from './catalog.js';
import { spdxExpression, spdxId } from './licenses.js';
import type { Sbom, SbomPackage } from './model.js';
import { imagePurl, KURA_VERSION } from './spdx.js';

export type CycloneDxVersion = '1.5' | '1.6';

function licenses(p: SbomPackage): Models.LicenseRepository {
  const repo = new Models.LicenseRepository();
  const exprs = p.licenses.map((l) => spdxExpression(l));
  // CycloneDX allows one expression, or any number of licenses by id or name.
  if (exprs.length === 1 && exprs[0]?.includes(' ')) {
    repo.add(new Models.LicenseExpression(exprs[0]));
    return repo;
  }
  for (const l of p.licenses) {
    const id = spdxId(l);
    repo.add(id ? new Models.SpdxLicense(id) : new Models.NamedLicense(l));
  }
  return repo;
}

/**
 * CycloneDX JSON (1.6, or 1.5) through @cyclonedx/cyclonedx-library: the image as metadata.component, the OS and
 * packages as components.
 */
export function toCycloneDx(sbom: Sbom, version: CycloneDxVersion = '1.6', now = new Date()): string {
  const bom = new Models.Bom({ serialNumber: `urn:uuid:${randomUUID()}` });
  bom.metadata.timestamp = now;
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'kura', { version: KURA_VERSION, group: 'ocikura' }),
  );
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, sbom.image.name, {
    version: sbom.image.digest,
    bomRef: `image:${sbom.image.digest}`,
    purl: imagePurl(sbom),
  });
  if (sbom.distro) {
    const d = sbom.distro;
    bom.components.add(
      new Models.Component(Enums.ComponentType.OperatingSystem, d.id, {
        bomRef: `os:${d.id}@${d.versionId ?? ''}`,
        ...(d.versionId ? { version: d.versionId } : {}),
        ...(d.prettyName ? { description: d.prettyName } : {}),
      }),
    );
  }
  const components = sbom.packages.map((p, i) => {
    const props = new Models.PropertyRepository([
      new Models.Property('kura:package:type', p.type),
      new Models.Property('kura:package:foundBy', p.foundBy),
      new Models.Property('kura:location:layerID', sbom.image.layers[p.layer] ?? String(p.layer)),
      ...p.locations.map((l, j) => new Models.Property(`kura:location:${j}:path`, l)),
      ...(p.arch ? [new Models.Property('kura:metadata:architecture', p.arch)] : []),
      ...(p.source
        ? [
            new Models.Property('kura:metadata:source', p.source.name),
            ...(p.source.version ? [new Models.Property('kura:metadata:sourceVersion', p.source.version)] : []),
          ]
        : []),
      ...(p.installedSize !== undefined
        ? [new Models.Property('kura:metadata:installedSize', String(p.installedSize))]
        : []),
      ...Object.entries(p.properties ?? {}).map(([k, v]) => new Models.Property(`kura:metadata:${k}`, v)),
      ...(p.files ?? []).map((f) => new Models.Property('kura:file', f.path)),
    ]);
    return new Models.Component(Enums.ComponentType.Library, p.name, {
      bomRef: `${p.purl}#${i}`,
      version: p.version,
      purl: p.purl,
      licenses: licenses(p),
      properties: props,
      ...(p.maintainer ? { author: p.maintainer } : {}),
      ...(p.description ? { description: p.description } : {}),
    });
  });
  for (const c of components) bom.components.add(c);
  for (const [a, b] of dependencyEdges(sbom.packages)) components[a]!.dependencies.add(components[b]!.bomRef);
  const spec = version === '1.5' ? Spec.Spec1dot5 : Spec.Spec1dot6;
  return new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(spec)).serialize(bom, {
    sortLists: false,
    space: 2,
  });
}
