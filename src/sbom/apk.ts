import { spdxExpression } from './licenses.js';
import type { ImageFiles } from './layers.js';
import { distroQualifier, purl, type Distro, type PackageFile, type SbomPackage } from './model.js';

export const APK_INSTALLED = 'lib/apk/db/installed';

interface ApkRecord {
  fields: Map<string, string>;
  depends: string[];
  provides: string[];
  files: PackageFile[];
}

/**
 * The records of apk's installed database: blank-line separated, one `K:value` per line (F: dir, R: file in it, Z: the
 * file's checksum, `Q1` + base64 SHA-1).
 */
export function parseApkInstalled(text: string): ApkRecord[] {
  const out: ApkRecord[] = [];
  let cur: ApkRecord | undefined;
  let dir = '';
  let last: PackageFile | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      if (cur?.fields.has('P')) out.push(cur);
      cur = last = undefined;
      continue;
    }
    if (line[1] !== ':') continue;
    cur ??= { fields: new Map(), depends: [], provides: [], files: [] };
    const k = line[0]!;
    const v = line.slice(2);
    if (k === 'F') {
      dir = v;
      last = undefined;
    } else if (k === 'R') cur.files.push((last = { path: `/${dir ? `${dir}/` : ''}${v}` }));
    else if (k === 'Z' && last && v.startsWith('Q1')) {
      const sha1 = Buffer.from(v.slice(2), 'base64');
      if (sha1.length === 20) last.checksums = [{ algorithm: 'SHA1', value: sha1.toString('hex') }];
    } else if (k === 'D') cur.depends.push(...v.split(/\s+/).filter(Boolean));
    else if (k === 'p') cur.provides.push(...v.split(/\s+/).filter(Boolean));
    else if (!cur.fields.has(k)) cur.fields.set(k, v);
  }
  if (cur?.fields.has('P')) out.push(cur);
  return out;
}

/** A dependency or provide without its version constraint (`so:libc.musl-x86_64.so.1`, `busybox>=1.36`). */
const bare = (s: string) => s.replace(/^!/, '').split(/[<>=~]/)[0]!;

/**
 * apk: `lib/apk/db/installed`; the layer that added a package is the first of the unbroken run of database versions
 * listing it.
 */
export function catalogApk(files: ImageFiles, distro: Distro | undefined, withFiles: boolean): SbomPackage[] {
  const db = files.files.get(APK_INSTALLED);
  if (!db) return [];
  let prev = new Map<string, number>();
  for (const v of files.history.get(APK_INSTALLED) ?? []) {
    const next = new Map<string, number>();
    if (v.data)
      for (const r of parseApkInstalled(v.data.toString('utf8'))) {
        const k = `${r.fields.get('P')}\u0000${r.fields.get('V')}`;
        next.set(k, prev.get(k) ?? v.layer);
      }
    prev = next;
  }
  const records = parseApkInstalled(db.data.toString('utf8'));
  if (!records.length && db.data.length)
    files.warnings.push(`/${APK_INSTALLED} in layer ${db.layer} holds no readable package records`);
  return records.map((r) => {
    const f = r.fields;
    const name = f.get('P')!;
    const version = f.get('V') ?? '';
    const origin = f.get('o');
    const license = f.get('L');
    const size = Number(f.get('I'));
    return {
      type: 'apk' as const,
      name,
      version,
      purl: purl('apk', distro?.id ?? 'alpine', name, version, {
        arch: f.get('A'),
        upstream: origin && origin !== name ? origin : undefined,
        distro: distroQualifier(distro),
      }),
      licenses: license ? [spdxExpression(license) ?? license] : [],
      layer: prev.get(`${name}\u0000${version}`) ?? db.layer,
      locations: [`/${APK_INSTALLED}`],
      foundBy: 'apk',
      ...(f.get('A') ? { arch: f.get('A') } : {}),
      ...(origin && origin !== name ? { source: { name: origin } } : {}),
      ...(f.get('m') ? { maintainer: f.get('m') } : {}),
      ...(Number.isFinite(size) && f.has('I') ? { installedSize: size } : {}),
      dependsOn: r.depends.map(bare),
      provides: r.provides.map(bare),
      ...(f.get('U') ? { homepage: f.get('U') } : {}),
      ...(f.get('T') ? { description: f.get('T') } : {}),
      ...(withFiles ? { files: r.files } : {}),
    };
  });
}
