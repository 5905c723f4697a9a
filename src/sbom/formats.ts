import { SbomTypes } from './artifact.js';
import { toCycloneDx } from './cyclonedx.js';
import type { Sbom } from './model.js';
import { toSpdx } from './spdx.js';
import { toPurls, toTable } from './text.js';

/** The output formats of `kura sbom`. */
export const SBOM_FORMATS = [
  'spdx-json',
  'cyclonedx-json',
  'cyclonedx-json@1.6',
  'cyclonedx-json@1.5',
  'table',
  'purls',
] as const;
export type SbomFormat = (typeof SBOM_FORMATS)[number];

export function isSbomFormat(s: string): s is SbomFormat {
  return (SBOM_FORMATS as readonly string[]).includes(s);
}

/** The artifact type a format is attached as, or undefined for the text formats. */
export function formatArtifactType(f: SbomFormat): string | undefined {
  if (f === 'spdx-json') return SbomTypes.Spdx;
  if (f.startsWith('cyclonedx-json')) return SbomTypes.CycloneDx;
  return undefined;
}

/** An SBOM written in one format. */
export function renderSbom(sbom: Sbom, f: SbomFormat): string {
  switch (f) {
    case 'spdx-json':
      return JSON.stringify(toSpdx(sbom), null, 2) + '\n';
    case 'cyclonedx-json':
    case 'cyclonedx-json@1.6':
      return toCycloneDx(sbom, '1.6') + '\n';
    case 'cyclonedx-json@1.5':
      return toCycloneDx(sbom, '1.5') + '\n';
    case 'table':
      return toTable(sbom);
    case 'purls':
      return toPurls(sbom);
  }
}
