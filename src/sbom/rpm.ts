import { createRequire } from 'node:module';
import { spdxExpression } from './licenses.js';
import type { FileVersion, ImageFiles } from './layers.js';
import { distroQualifier, purl, type Distro, type PackageFile, type SbomPackage } from './model.js';
import { isBerkeleyHash, isNdb, readBerkeleyHashValues, readNdbBlobs } from './rpmdb-files.js';

const require = createRequire(import.meta.url);

/**
 * The rpm databases, each holding one rpm header per package: SQLite `rpmdb.sqlite` (RHEL 9, Fedora, Amazon Linux
 * 2023), BerkeleyDB hash `Packages` (RHEL/CentOS 7–8, Amazon Linux 2) and NDB `Packages.db` (SUSE).
 */
export const RPMDB_PATHS = ['var/lib', 'usr/lib/sysimage', 'usr/share'].flatMap((d) =>
  ['rpmdb.sqlite', 'Packages', 'Packages.db'].map((f) => `${d}/rpm/${f}`),
);

export function rpmWants(path: string): boolean {
  return RPMDB_PATHS.includes(path);
}

const Tag = {
  Name: 1000,
  Version: 1001,
  Release: 1002,
  Epoch: 1003,
  Summary: 1004,
  Size: 1009,
  Vendor: 1011,
  License: 1014,
  Url: 1020,
  Arch: 1022,
  SourceRpm: 1044,
  ProvideName: 1047,
  RequireName: 1049,
  FileDigests: 1035,
  DirIndexes: 1116,
  BaseNames: 1117,
  DirNames: 1118,
  FileDigestAlgo: 5011,
} as const;

type TagValue = string | number | string[] | number[];

/** rpm's PGPHASHALGO numbers of the digests Kura writes (the rest are left without a checksum). */
const DIGEST_ALGO: Record<number, 'MD5' | 'SHA1' | 'SHA256'> = { 1: 'MD5', 2: 'SHA1', 8: 'SHA256' };

/** The tags of one rpm header blob (`il`, `dl`, `il` 16-byte index entries, then the data store; all big-endian). */
export function parseRpmHeader(b: Buffer): Map<number, TagValue> {
  const out = new Map<number, TagValue>();
  if (b.length < 8) throw new Error('header too short');
  const il = b.readInt32BE(0);
  const dl = b.readInt32BE(4);
  const store = 8 + il * 16;
  if (il < 0 || dl < 0 || store + dl > b.length) throw new Error('header sizes do not fit');
  const str = (at: number) => {
    const end = b.indexOf(0, store + at);
    return b.toString('utf8', store + at, end < 0 ? store + dl : end);
  };
  for (let i = 0; i < il; i++) {
    const e = 8 + i * 16;
    const tag = b.readInt32BE(e);
    const type = b.readInt32BE(e + 4);
    const off = b.readInt32BE(e + 8);
    const count = b.readInt32BE(e + 12);
    if (off < 0 || off >= dl) continue;
    if (type === 4 && count === 1 && store + off + 4 <= b.length) out.set(tag, b.readInt32BE(store + off));
    else if (type === 4 && count > 1 && store + off + 4 * count <= b.length)
      out.set(
        tag,
        Array.from({ length: count }, (_, k) => b.readInt32BE(store + off + 4 * k)),
      );
    else if (type === 6 || type === 9) out.set(tag, str(off));
    else if (type === 8) {
      const list: string[] = [];
      let at = off;
      for (let k = 0; k < count && at < dl; k++) {
        const s = str(at);
        list.push(s);
        at += Buffer.byteLength(s) + 1;
      }
      out.set(tag, list);
    }
  }
  return out;
}

interface RpmHeader {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  h: Map<number, TagValue>;
}

/** The header blobs of a database of any of the three kinds, told apart by their first bytes. */
function headerBlobs(data: Buffer): Buffer[] {
  if (isBerkeleyHash(data)) return readBerkeleyHashValues(data);
  if (isNdb(data)) return readNdbBlobs(data);
  if (!data.subarray(0, 16).equals(Buffer.from('SQLite format 3\0'))) throw new Error('unknown database format');
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(data, { readonly: true });
  try {
    return (db.prepare('SELECT blob FROM Packages').all() as { blob: Buffer }[]).map((r) => r.blob);
  } finally {
    db.close();
  }
}

function readDb(data: Buffer): RpmHeader[] {
  const out: RpmHeader[] = [];
  for (const blob of headerBlobs(data)) {
    // rpm's BerkeleyDB keeps a counter, not a header, under key 0.
    if (blob.length < 16) continue;
    const h = parseRpmHeader(blob);
    const name = h.get(Tag.Name);
    if (typeof name !== 'string' || name === 'gpg-pubkey') continue;
    const epoch = h.get(Tag.Epoch);
    out.push({
      name,
      version: String(h.get(Tag.Version) ?? ''),
      release: String(h.get(Tag.Release) ?? ''),
      ...(typeof epoch === 'number' ? { epoch } : {}),
      h,
    });
  }
  return out;
}

const list = <T>(v: TagValue | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]) as T[];

/** The files a header lists (DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]), with FILEDIGESTS in FILEDIGESTALGO (MD5 if absent). */
function ownedFiles(h: Map<number, TagValue>): PackageFile[] {
  const names = list<string>(h.get(Tag.BaseNames));
  const dirs = list<string>(h.get(Tag.DirNames));
  const index = list<number>(h.get(Tag.DirIndexes));
  const digests = list<string>(h.get(Tag.FileDigests));
  const algo = DIGEST_ALGO[(h.get(Tag.FileDigestAlgo) as number | undefined) ?? 1];
  return names.map((n, i) => {
    const path = `${dirs[index[i]!] ?? ''}${n}`;
    const sum = digests[i];
    return sum && algo ? { path, checksums: [{ algorithm: algo, value: sum }] } : { path };
  });
}

const evr = (r: RpmHeader) => `${r.epoch !== undefined ? `${r.epoch}:` : ''}${r.version}-${r.release}`;

/**
 * rpm: every database the image holds; the layer that added a package is the first of the unbroken run of database
 * versions listing it. A package listed by two databases (a distro keeping an old one beside the new) is listed once.
 */
export function catalogRpm(files: ImageFiles, distro: Distro | undefined, withFiles = false): SbomPackage[] {
  const out: SbomPackage[] = [];
  const seen = new Map<string, SbomPackage>();
  for (const path of RPMDB_PATHS) {
    const f = files.files.get(path);
    if (!f) continue;
    let prev = new Map<string, number>();
    let headers: RpmHeader[] = [];
    try {
      for (const v of files.history.get(path) ?? [{ layer: f.layer, data: f.data } as FileVersion]) {
        const next = new Map<string, number>();
        headers = v.data ? readDb(v.data) : [];
        for (const r of headers) next.set(`${r.name}\u0000${evr(r)}`, prev.get(`${r.name}\u0000${evr(r)}`) ?? v.layer);
        prev = next;
      }
    } catch (e) {
      files.warnings.push(
        `/${path} in layer ${f.layer} is not a readable rpm database (${(e as Error).message}); its packages are ` +
          `not listed`,
      );
      continue;
    }
    for (const r of headers) {
      const g = (t: number) => (typeof r.h.get(t) === 'string' ? (r.h.get(t) as string) : undefined);
      const arch = g(Tag.Arch);
      const src = g(Tag.SourceRpm);
      const license = g(Tag.License);
      const size = r.h.get(Tag.Size);
      const p: SbomPackage = {
        type: 'rpm',
        name: r.name,
        version: evr(r),
        purl: purl('rpm', distro?.id ?? 'redhat', r.name, `${r.version}-${r.release}`, {
          arch,
          epoch: r.epoch !== undefined ? String(r.epoch) : undefined,
          upstream: src,
          distro: distroQualifier(distro),
        }),
        licenses: license ? [spdxExpression(license) ?? license] : [],
        layer: prev.get(`${r.name}\u0000${evr(r)}`) ?? f.layer,
        locations: [`/${path}`],
        foundBy: 'rpm',
        ...(arch ? { arch } : {}),
        ...(src ? { source: { name: src } } : {}),
        ...(g(Tag.Vendor) ? { maintainer: g(Tag.Vendor) } : {}),
        ...(typeof size === 'number' ? { installedSize: size } : {}),
        dependsOn: ((r.h.get(Tag.RequireName) as string[] | undefined) ?? []).filter((n) => !n.startsWith('rpmlib(')),
        provides: (r.h.get(Tag.ProvideName) as string[] | undefined) ?? [],
        ...(g(Tag.Url) ? { homepage: g(Tag.Url) } : {}),
        ...(g(Tag.Summary) ? { description: g(Tag.Summary) } : {}),
        ...(withFiles ? { files: ownedFiles(r.h) } : {}),
      };
      const twin = seen.get(p.purl);
      if (twin) twin.locations.push(...p.locations);
      else {
        out.push(p);
        seen.set(p.purl, p);
      }
    }
  }
  return out;
}
