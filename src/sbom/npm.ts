import { spdxExpression } from './licenses.js';
import type { ImageFiles } from './layers.js';
import { purl, type SbomPackage } from './model.js';

/**
 * `…/node_modules/NAME/package.json` and `…/node_modules/@SCOPE/NAME/package.json`, nested ones and global installs
 * included.
 */
const PACKAGE_JSON = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/@.][^/]*)\/package\.json$/;

export function npmWants(path: string): boolean {
  return PACKAGE_JSON.test(path);
}

interface PackageJson {
  name?: unknown;
  version?: unknown;
  license?: unknown;
  licenses?: unknown;
  description?: unknown;
  homepage?: unknown;
  author?: unknown;
  dependencies?: unknown;
  optionalDependencies?: unknown;
}

/** Licenses of package.json: `license` (an SPDX expression, or the old `{type}`), or the old `licenses` array. */
export function npmLicenses(p: PackageJson): string[] {
  const one = (l: unknown): string | undefined =>
    typeof l === 'string'
      ? l
      : l && typeof l === 'object' && typeof (l as { type?: unknown }).type === 'string'
        ? (l as { type: string }).type
        : undefined;
  const raw = p.license !== undefined ? [one(p.license)] : Array.isArray(p.licenses) ? p.licenses.map(one) : [];
  return raw.filter((l): l is string => !!l && l !== 'UNLICENSED').map((l) => spdxExpression(l) ?? l);
}

function author(a: unknown): string | undefined {
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object' && typeof (a as { name?: unknown }).name === 'string') {
    const o = a as { name: string; email?: unknown };
    return typeof o.email === 'string' ? `${o.name} <${o.email}>` : o.name;
  }
  return undefined;
}

/** npm: every installed package.json under a node_modules directory whose name matches its folder. */
export function catalogNpm(files: ImageFiles): SbomPackage[] {
  const out: SbomPackage[] = [];
  for (const [path, f] of files.files) {
    const m = PACKAGE_JSON.exec(path);
    if (!m) continue;
    let p: PackageJson;
    try {
      p = JSON.parse(f.data.toString('utf8')) as PackageJson;
    } catch {
      files.warnings.push(`/${path} in layer ${f.layer} is not valid JSON; skipped`);
      continue;
    }
    if (typeof p.name !== 'string' || typeof p.version !== 'string' || !p.version) continue;
    // A package.json in a folder of another name (test fixtures, templates) is not an installed package.
    if (p.name !== m[1]) continue;
    const slash = p.name.startsWith('@') ? p.name.indexOf('/') : -1;
    const deps = [p.dependencies, p.optionalDependencies].flatMap((d) =>
      d && typeof d === 'object' ? Object.keys(d) : [],
    );
    out.push({
      type: 'npm',
      name: p.name,
      version: p.version,
      purl:
        slash > 0
          ? purl('npm', p.name.slice(0, slash), p.name.slice(slash + 1), p.version)
          : purl('npm', undefined, p.name, p.version),
      licenses: npmLicenses(p),
      layer: f.layer,
      locations: [`/${path}`],
      foundBy: 'npm',
      dependsOn: deps,
      ...(author(p.author) ? { maintainer: author(p.author) } : {}),
      ...(typeof p.homepage === 'string' ? { homepage: p.homepage } : {}),
      ...(typeof p.description === 'string' ? { description: p.description } : {}),
    });
  }
  return out;
}
