/** The output formats of `kura sbom` and what each is attached as (cheap to load: no writer is imported). */

/** The artifact types an SBOM is attached as (referrers API `artifactType`). */
export const SbomTypes = {
  Spdx: 'application/spdx+json',
  CycloneDx: 'application/vnd.cyclonedx+json',
} as const;

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
