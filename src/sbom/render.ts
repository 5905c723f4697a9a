/** An SBOM rendered in one of the formats of formats.ts. */
import { toCycloneDx } from './cyclonedx.js';
import type { SbomFormat } from './formats.js';
import type { Sbom } from './model.js';
import { toSpdx } from './spdx.js';
import { toPurls, toTable } from './text.js';

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
