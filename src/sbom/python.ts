import { spdxExpression } from './licenses.js';
import type { ImageFiles } from './layers.js';
import { allValues, parseStanzas, purl, type SbomPackage } from './model.js';

/**
 * `*.dist-info/METADATA` (wheels, pip), `*.egg-info/PKG-INFO` and a plain `*.egg-info` file (setuptools, distro
 * packages).
 */
const METADATA = /(?:^|\/)[^/]+\.(?:dist-info\/METADATA|egg-info\/PKG-INFO|egg-info)$/;

export function pythonWants(path: string): boolean {
  return METADATA.test(path);
}

/** PEP 503 normalised name, the form a pypi PURL uses. */
export const normalise = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-');

/** python: core metadata (RFC 822 headers up to the first blank line; the body is the description). */
export function catalogPython(files: ImageFiles): SbomPackage[] {
  const out: SbomPackage[] = [];
  for (const [path, f] of files.files) {
    if (!METADATA.test(path)) continue;
    const text = f.data.toString('utf8');
    const head = parseStanzas(text.split(/\r?\n\r?\n/)[0] ?? '')[0];
    const name = head?.get('Name');
    const version = head?.get('Version');
    if (!head || !name || !version) {
      files.warnings.push(`/${path} in layer ${f.layer} has no Name and Version; skipped`);
      continue;
    }
    const expr = head.get('License-Expression');
    const lic = head.get('License');
    const licenses = expr
      ? [expr]
      : lic && lic !== 'UNKNOWN' && !lic.includes('\n')
        ? [spdxExpression(lic) ?? lic]
        : [];
    const author = head.get('Author') ?? head.get('Author-email');
    out.push({
      type: 'python',
      name,
      version,
      purl: purl('pypi', undefined, normalise(name), version),
      licenses,
      layer: f.layer,
      locations: [`/${path}`],
      foundBy: 'python',
      dependsOn: allValues(head, 'Requires-Dist')
        .filter((r) => !/;\s*extra\s*==/.test(r))
        .map((r) => normalise(r.split(/[\s;(<>=!~[]/)[0]!)),
      ...(author && author !== 'UNKNOWN' ? { maintainer: author } : {}),
      ...(head.get('Home-page') ? { homepage: head.get('Home-page') } : {}),
      ...(head.get('Summary') ? { description: head.get('Summary') } : {}),
    });
  }
  return out;
}
