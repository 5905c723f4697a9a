import type { ImageFiles, Probe } from './layers.js';
import { purl, type SbomPackage } from './model.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
/** What is kept after the magic: the 32-byte header and the two length-prefixed strings (Go ≥ 1.18). */
const KEEP = 256 << 10;

/**
 * A probe over an executable's bytes: an ELF file keeps the Go build-info block (found by its
 * magic, `debug/buildinfo`), anything else keeps nothing. Only a small window is held at a time.
 */
export function goProbe(_path: string, mode: number, size: number): Probe | undefined {
  if ((mode & 0o111) === 0 || size < 1024) return undefined;
  let head = Buffer.alloc(0);
  let carry = Buffer.alloc(0);
  let found: Buffer[] | undefined;
  let kept = 0;
  let elf: boolean | undefined;
  return {
    push(chunk) {
      if (elf === false) return;
      if (elf === undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 4) return;
        elf = head[0] === 0x7f && head.subarray(1, 4).toString('latin1') === 'ELF';
        if (!elf) return;
      }
      if (found) {
        if (kept < KEEP) {
          found.push(chunk.subarray(0, KEEP - kept));
          kept += Math.min(chunk.length, KEEP - kept);
        }
        return;
      }
      const buf = Buffer.concat([carry, chunk]);
      const at = buf.indexOf(MAGIC);
      if (at >= 0) {
        const rest = buf.subarray(at, at + KEEP);
        found = [rest];
        kept = rest.length;
      } else carry = buf.subarray(Math.max(0, buf.length - MAGIC.length + 1));
    },
    end() {
      return found ? Buffer.concat(found) : undefined;
    },
  };
}

function uvarint(b: Buffer, at: number): [number, number] {
  let x = 0;
  let s = 0;
  for (let i = at; i < b.length && i < at + 10; i++) {
    const c = b[i]!;
    if (c < 0x80) return [x + c * 2 ** s, i + 1];
    x += (c & 0x7f) * 2 ** s;
    s += 7;
  }
  return [-1, at];
}

export interface GoBuildInfo {
  goVersion: string;
  path?: string;
  main?: { path: string; version: string };
  deps: { path: string; version: string }[];
}

/**
 * The build info of a Go ≥ 1.18 binary from its block (magic, 32-byte header, version, modinfo); undefined for older
 * layouts.
 */
export function parseGoBuildInfo(block: Buffer): GoBuildInfo | undefined {
  if (block.length < 32 || !block.subarray(0, MAGIC.length).equals(MAGIC) || (block[15]! & 2) === 0) return undefined;
  const [vlen, a] = uvarint(block, 32);
  if (vlen < 0 || a + vlen > block.length) return undefined;
  const goVersion = block.subarray(a, a + vlen).toString('utf8');
  const [mlen, b] = uvarint(block, a + vlen);
  if (mlen < 0 || b + mlen > block.length) return undefined;
  let raw = block.subarray(b, b + mlen);
  // 16-byte sentinels surround the text (runtime/debug's modinfo).
  if (raw.length >= 33 && raw[raw.length - 17] === 0x0a) raw = raw.subarray(16, raw.length - 16);
  const mod = raw.toString('utf8');
  const info: GoBuildInfo = { goVersion, deps: [] };
  let last: { path: string; version: string } | undefined;
  for (const line of mod.split('\n')) {
    const [k, p, v] = line.split('\t');
    if (k === 'path' && p) info.path = p;
    else if (k === 'mod' && p) info.main = last = { path: p, version: v ?? '' };
    else if (k === 'dep' && p) info.deps.push((last = { path: p, version: v ?? '' }));
    else if (k === '=>' && p && last) {
      // A replacement: the module built is the replacement's.
      last.path = p;
      last.version = v ?? '';
    }
  }
  return info;
}

function goPurl(path: string, version: string): string {
  const i = path.lastIndexOf('/');
  const known = version && version !== '(devel)' ? version : undefined;
  return i > 0 ? purl('golang', path.slice(0, i), path.slice(i + 1), known) : purl('golang', undefined, path, known);
}

/** Go binaries: the main module and every dependency module the build info lists, with the Go version as a property. */
export function catalogGo(files: ImageFiles): SbomPackage[] {
  const out: SbomPackage[] = [];
  for (const [path, f] of files.probed) {
    if (!f.data.subarray(0, MAGIC.length).equals(MAGIC)) continue;
    const info = parseGoBuildInfo(f.data);
    if (!info) {
      files.warnings.push(
        `/${path} in layer ${f.layer} is a Go binary built before Go 1.18 (or damaged); its modules are not listed`,
      );
      continue;
    }
    const mods = [...(info.main ? [info.main] : []), ...info.deps];
    for (const m of mods) {
      out.push({
        type: 'go',
        name: m.path,
        version: m.version,
        purl: goPurl(m.path, m.version),
        licenses: [],
        layer: f.layer,
        locations: [`/${path}`],
        foundBy: 'go-binary',
        properties: { 'go.version': info.goVersion, ...(m === info.main ? { 'go.main': 'true' } : {}) },
        ...(m === info.main ? { dependsOn: info.deps.map((d) => d.path) } : {}),
      });
    }
  }
  return out;
}
