import type { Platform } from './artifact.js';
import { OciError } from './errors.js';

/** Aliases people type, to the names GOARCH/GOOS use (which image indexes carry). */
const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
};

/** The variant an architecture has when none is written: arm64 → v8, arm → v7. */
function defaultVariant(architecture: string): string | undefined {
  return architecture === 'arm64' ? 'v8' : architecture === 'arm' ? 'v7' : undefined;
}

/**
 * Parses `os/arch[/variant]` as docker's `--platform` takes it (`linux/arm64/v8`, `linux/amd64`,
 * `windows/amd64`), normalising aliases (`x86_64`, `aarch64`). An `os.version` may follow a colon:
 * `windows/amd64:10.0.17763.1234`.
 */
export function parsePlatform(s: string): Platform {
  const [spec, osVersion] = s.trim().split(/:(.*)/s) as [string, string | undefined];
  const parts = spec.toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new OciError(
      'BAD_REQUEST',
      `invalid platform "${s.slice(0, 100)}": write it as os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`,
    );
  }
  let [os, architecture, variant] = parts as [string, string, string | undefined];
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  if (os === 'macos') os = 'darwin';
  if (architecture === 'arm64' && variant === '8') variant = 'v8';
  return { os, architecture, ...(variant ? { variant } : {}), ...(osVersion ? { 'os.version': osVersion } : {}) };
}

/** `os/arch[/variant]`, the form docker prints. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * Whether an image of platform `have` can serve a request for `want`: same os and architecture,
 * the same variant once defaults are applied (arm64 means v8), and, when `want` names an os.version,
 * the same one.
 */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (want.os !== have.os) return false;
  const wa = ARCH_ALIASES[want.architecture] ?? want.architecture;
  const ha = ARCH_ALIASES[have.architecture] ?? have.architecture;
  if (wa !== ha) return false;
  const wv = want.variant ?? defaultVariant(wa);
  const hv = have.variant ?? defaultVariant(ha);
  if (want.variant && wv !== hv) return false;
  if (!want.variant && wv !== undefined && hv !== undefined && wv !== hv) return false;
  if (want['os.version'] && have['os.version'] && want['os.version'] !== have['os.version']) return false;
  return true;
}

/** Index entries that are not runnable images: BuildKit attestations (`unknown/unknown`). */
export function isAttestationPlatform(p: Platform | undefined): boolean {
  return p?.os === 'unknown' && p?.architecture === 'unknown';
}

/** The platform of this machine, as an index names it. */
export function hostPlatform(): Platform {
  // The global, not `import … from 'node:process'`: that import builds an ES module facade of every
  // property of process, which costs Node 20 about 25 M instructions (some 6 ms) on every start.
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  const architecture = map[process.arch] ?? process.arch;
  return { os, architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}
