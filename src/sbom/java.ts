import { inflateRawSync } from 'node:zlib';
import { spdxExpression } from './licenses.js';
import type { ImageFiles, Probe } from './layers.js';
import { purl, type SbomPackage } from './model.js';

const ARCHIVE = /\.(?:jar|war|ear|par|sar|jpi|hpi|nar)$/i;

export function isJavaArchive(path: string): boolean {
  return ARCHIVE.test(path);
}

const MAX_ARCHIVE = 256 << 20;

/**
 * A probe over a Java archive: it holds that one archive while it streams past and keeps only the
 * packages found in it (as JSON), so an image full of jars never has them in memory together.
 */
export function javaProbe(path: string, _mode: number, size: number): Probe | undefined {
  if (!ARCHIVE.test(path)) return undefined;
  const chunks: Buffer[] = [];
  return {
    push(c) {
      if (size <= MAX_ARCHIVE) chunks.push(c);
    },
    end() {
      if (size > MAX_ARCHIVE) return Buffer.from(JSON.stringify({ error: `over the ${MAX_ARCHIVE}-byte limit` }));
      try {
        return Buffer.from(JSON.stringify({ packages: javaPackages(Buffer.concat(chunks), `/${path}`) }));
      } catch (e) {
        return Buffer.from(JSON.stringify({ error: (e as Error).message }));
      }
    },
  };
}

interface ZipEntry {
  name: string;
  method: number;
  compressed: number;
  offset: number;
}

/** The central directory of a zip archive (no zip64: such archives give an error). */
export function zipEntries(b: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (b.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('no zip end-of-central-directory record');
  const count = b.readUInt16LE(eocd + 10);
  let at = b.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff) throw new Error('zip64 archives are not read');
  const out: ZipEntry[] = [];
  for (let k = 0; k < count; k++) {
    if (at + 46 > b.length || b.readUInt32LE(at) !== 0x02014b50) throw new Error('damaged zip central directory');
    const n = b.readUInt16LE(at + 28);
    out.push({
      name: b.toString('utf8', at + 46, at + 46 + n),
      method: b.readUInt16LE(at + 10),
      compressed: b.readUInt32LE(at + 20),
      offset: b.readUInt32LE(at + 42),
    });
    at += 46 + n + b.readUInt16LE(at + 30) + b.readUInt16LE(at + 32);
  }
  return out;
}

/** One entry's bytes (stored or deflated). */
export function zipRead(b: Buffer, e: ZipEntry): Buffer {
  if (b.readUInt32LE(e.offset) !== 0x04034b50) throw new Error(`damaged zip local header for ${e.name}`);
  const start = e.offset + 30 + b.readUInt16LE(e.offset + 26) + b.readUInt16LE(e.offset + 28);
  const data = b.subarray(start, start + e.compressed);
  if (e.method === 0) return data;
  if (e.method === 8) return inflateRawSync(data);
  throw new Error(`${e.name} uses zip method ${e.method}`);
}

/** `key=value` lines of a Java properties file (comments and blank lines skipped). */
function properties(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith('!')) continue;
    const i = t.search(/[=:]/);
    if (i > 0) m.set(t.slice(0, i).trim(), t.slice(i + 1).trim());
  }
  return m;
}

/** MANIFEST.MF main attributes (continuation lines start with one space). */
function manifest(text: string): Map<string, string> {
  const m = new Map<string, string>();
  let last = '';
  for (const line of text.split(/\r?\n/)) {
    if (!line) break;
    if (line.startsWith(' ') && last) m.set(last, m.get(last)! + line.slice(1));
    else {
      const i = line.indexOf(':');
      if (i > 0) m.set((last = line.slice(0, i)), line.slice(i + 1).trim());
    }
  }
  return m;
}

/**
 * Packages of one Java archive: one per `META-INF/maven/<g>/<a>/pom.properties` (shaded artifacts
 * included), then the same for nested archives (WEB-INF/lib, BOOT-INF/lib), up to 3 deep. An
 * archive with only a MANIFEST.MF names no Maven coordinates and gives no package.
 */
export function javaPackages(
  b: Buffer,
  location: string,
  depth = 0,
): { name: string; version: string; group: string; license?: string; location: string }[] {
  const entries = zipEntries(b);
  const mf = entries.find((e) => e.name === 'META-INF/MANIFEST.MF');
  const attrs = mf ? manifest(zipRead(b, mf).toString('utf8')) : new Map<string, string>();
  const license = attrs.get('Bundle-License');
  const out: ReturnType<typeof javaPackages> = [];
  for (const e of entries) {
    if (!/^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/.test(e.name)) continue;
    const p = properties(zipRead(b, e).toString('utf8'));
    const group = p.get('groupId');
    const name = p.get('artifactId');
    const version = p.get('version');
    if (group && name && version) out.push({ name, version, group, ...(license ? { license } : {}), location });
  }
  if (depth < 3) {
    for (const e of entries)
      if (ARCHIVE.test(e.name)) out.push(...javaPackages(zipRead(b, e), `${location}:${e.name}`, depth + 1));
  }
  return out;
}

/** Java: jar/war/ear archives and the archives nested in them. */
export function catalogJava(files: ImageFiles): SbomPackage[] {
  const out: SbomPackage[] = [];
  for (const [path, f] of files.probed) {
    if (!ARCHIVE.test(path)) continue;
    const r = JSON.parse(f.data.toString('utf8')) as { packages?: ReturnType<typeof javaPackages>; error?: string };
    if (!r.packages) {
      files.warnings.push(`/${path} in layer ${f.layer} is not a readable Java archive (${r.error}); skipped`);
      continue;
    }
    const found = r.packages;
    for (const j of found) {
      out.push({
        type: 'java',
        name: j.name,
        version: j.version,
        purl: purl('maven', j.group, j.name, j.version),
        licenses: j.license ? [spdxExpression(j.license) ?? j.license] : [],
        layer: f.layer,
        locations: [j.location],
        foundBy: 'java-archive',
        properties: { 'maven.groupId': j.group },
      });
    }
  }
  return out;
}
