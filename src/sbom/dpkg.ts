import { spdxExpression } from './licenses.js';
import type { FileVersion, ImageFiles } from './layers.js';
import { distroQualifier, parseStanzas, purl, type Distro, type PackageFile, type SbomPackage } from './model.js';

export const DPKG_STATUS = 'var/lib/dpkg/status';
const STATUS_D = /^var\/lib\/dpkg\/status\.d\/[^/]+$/;
const COPYRIGHT = /^usr\/share\/doc\/[^/]+\/copyright$/;
const LIST = /^var\/lib\/dpkg\/info\/[^/]+\.(?:list|md5sums)$/;

/** The paths the dpkg cataloger reads (the `.list` and `.md5sums` files only when files are wanted). */
export function dpkgWants(path: string, withFiles: boolean): boolean {
  return path === DPKG_STATUS || STATUS_D.test(path) || COPYRIGHT.test(path) || (withFiles && LIST.test(path));
}

/**
 * The files a package owns: the paths of its `.list` (all but `/.`), each with the MD5 its `.md5sums` (`HASH  path`,
 * no leading slash) or its `Conffiles` field (` /path HASH [obsolete]`) states. A distroless package has no `.list`:
 * its `.md5sums` names its files.
 */
export function ownedFiles(list: string | undefined, md5sums: string | undefined, conffiles: string | undefined) {
  const md5 = new Map<string, string>();
  for (const line of (md5sums ?? '').split('\n')) {
    const m = /^([0-9a-f]{32}) [ *]?(.+)$/.exec(line);
    if (m) md5.set(`/${m[2]!.replace(/^\/+/, '')}`, m[1]!);
  }
  for (const line of (conffiles ?? '').split('\n')) {
    const m = /^\s*(\/\S+)\s+([0-9a-f]{32})(?:\s|$)/.exec(line);
    if (m) md5.set(m[1]!, m[2]!);
  }
  const paths = list !== undefined ? list.split('\n').filter((l) => l && l !== '/.') : [...md5.keys()];
  return paths.map((path): PackageFile => {
    const sum = md5.get(path);
    return sum ? { path, checksums: [{ algorithm: 'MD5', value: sum }] } : { path };
  });
}

interface Stanza {
  name: string;
  version: string;
  arch?: string;
  fields: Map<string, string>;
}

/**
 * The installed packages of a status file (entries whose `Status` ends in `installed`; `deinstall`/config-files ones
 * are left out).
 */
export function parseDpkgStatus(text: string): Stanza[] {
  const out: Stanza[] = [];
  for (const s of parseStanzas(text)) {
    const name = s.get('Package');
    const version = s.get('Version');
    if (!name || !version) continue;
    const status = s.get('Status');
    if (status !== undefined && status.split(/\s+/).at(-1) !== 'installed') continue;
    out.push({ name, version, ...(s.get('Architecture') ? { arch: s.get('Architecture') } : {}), fields: s });
  }
  return out;
}

const key = (s: Stanza) => `${s.name}\u0000${s.arch ?? ''}\u0000${s.version}`;

/**
 * The layer that introduced each package of the last version of a status file: the first of an unbroken run of versions
 * that list it.
 */
export function introducedIn(versions: FileVersion[]): Map<string, number> {
  let prev = new Map<string, number>();
  for (const v of versions) {
    const next = new Map<string, number>();
    if (v.data) for (const s of parseDpkgStatus(v.data.toString('utf8'))) next.set(key(s), prev.get(key(s)) ?? v.layer);
    prev = next;
  }
  return prev;
}

/** Names in a Depends/Pre-Depends field: every alternative, without version constraints or `:arch`. */
export function dependencyNames(field: string | undefined): string[] {
  if (!field) return [];
  const out: string[] = [];
  for (const alt of field.split(/[,|]/)) {
    const n = alt.trim().split(/[\s(:[]/)[0];
    if (n && !out.includes(n)) out.push(n);
  }
  return out;
}

/** The distinct `License:` short names of a machine-readable (DEP-5) copyright file; none for free-form ones. */
export function copyrightLicenses(text: string): string[] {
  if (!/^Format:\s*\S+/m.test(text)) return [];
  const out: string[] = [];
  for (const m of text.matchAll(/^License:[ \t]*(\S[^\n]*)$/gm)) {
    const name = m[1]!.trim();
    const expr = spdxExpression(name) ?? name;
    if (!out.includes(expr)) out.push(expr);
  }
  return out;
}

function toPackage(
  s: Stanza,
  layer: number,
  location: string,
  distro: Distro | undefined,
  files: ImageFiles,
  withFiles: boolean,
): SbomPackage {
  const f = s.fields;
  const src = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(f.get('Source') ?? '');
  const source = src ? { name: src[1]!, version: src[2] ?? s.version } : undefined;
  const upstream = source
    ? source.version !== s.version
      ? `${source.name}@${source.version}`
      : source.name
    : undefined;
  const copyright = files.files.get(`usr/share/doc/${s.name}/copyright`);
  const size = Number(f.get('Installed-Size'));
  const info = (ext: string) =>
    files.files.get(`var/lib/dpkg/info/${s.name}:${s.arch}.${ext}`) ??
    files.files.get(`var/lib/dpkg/info/${s.name}.${ext}`) ??
    (location.startsWith('var/lib/dpkg/status.d/') && ext === 'md5sums'
      ? files.files.get(`${location}.md5sums`)
      : undefined);
  const list = withFiles ? info('list') : undefined;
  const md5sums = withFiles ? info('md5sums') : undefined;
  return {
    type: 'deb',
    name: s.name,
    version: s.version,
    purl: purl('deb', distro?.id ?? 'debian', s.name, s.version, {
      arch: s.arch,
      distro: distroQualifier(distro),
      upstream: source && (source.name !== s.name || source.version !== s.version) ? upstream : undefined,
    }),
    licenses: copyright ? copyrightLicenses(copyright.data.toString('utf8')) : [],
    layer,
    locations: [`/${location}`, ...(copyright ? [`/${copyright.path}`] : [])],
    foundBy: 'dpkg',
    ...(s.arch ? { arch: s.arch } : {}),
    ...(source && (source.name !== s.name || source.version !== s.version) ? { source } : {}),
    ...(f.get('Maintainer') ? { maintainer: f.get('Maintainer') } : {}),
    ...(Number.isFinite(size) && f.has('Installed-Size') ? { installedSize: size * 1024 } : {}),
    dependsOn: [...dependencyNames(f.get('Pre-Depends')), ...dependencyNames(f.get('Depends'))],
    provides: dependencyNames(f.get('Provides')),
    ...(f.get('Homepage') ? { homepage: f.get('Homepage') } : {}),
    ...(f.get('Description') ? { description: f.get('Description')!.split('\n')[0] } : {}),
    ...(list || md5sums
      ? { files: ownedFiles(list?.data.toString('utf8'), md5sums?.data.toString('utf8'), f.get('Conffiles')) }
      : {}),
  };
}

/** dpkg: `var/lib/dpkg/status` (layer from its history) and distroless `status.d/*` (one file per package). */
export function catalogDpkg(files: ImageFiles, distro: Distro | undefined, withFiles: boolean): SbomPackage[] {
  const out: SbomPackage[] = [];
  const status = files.files.get(DPKG_STATUS);
  if (status) {
    const layers = introducedIn(files.history.get(DPKG_STATUS) ?? [{ layer: status.layer, data: status.data }]);
    const stanzas = parseDpkgStatus(status.data.toString('utf8'));
    if (!stanzas.length && status.data.length)
      files.warnings.push(`/${DPKG_STATUS} in layer ${status.layer} holds no readable package entries`);
    for (const s of stanzas)
      out.push(toPackage(s, layers.get(key(s)) ?? status.layer, DPKG_STATUS, distro, files, withFiles));
  }
  for (const [path, f] of files.files) {
    if (!STATUS_D.test(path) || path.endsWith('.md5sums')) continue;
    for (const s of parseDpkgStatus(f.data.toString('utf8')))
      out.push(toPackage(s, f.layer, path, distro, files, withFiles));
  }
  return out;
}
