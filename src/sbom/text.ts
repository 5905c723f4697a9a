import type { Sbom } from './model.js';

/** syft's table: NAME VERSION TYPE, plus the layer that added each package (index and short diff ID). */
export function toTable(sbom: Sbom): string {
  const rows = [
    ['NAME', 'VERSION', 'TYPE', 'LAYER'],
    ...sbom.packages.map((p) => [
      p.name,
      p.version,
      p.type,
      `${p.layer} ${(sbom.image.layers[p.layer] ?? '').replace(/^sha256:/, '').slice(0, 12)}`.trim(),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]! + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** One PURL a line, in the SBOM's order. */
export function toPurls(sbom: Sbom): string {
  return sbom.packages.map((p) => `${p.purl}\n`).join('');
}
