import type { Readable } from 'node:stream';
import type { ResolvedImage } from '../analysis/resolve.js';
import { configPlatform } from '../oci/image.js';
import { APK_INSTALLED, catalogApk } from './apk.js';
import { catalogDpkg, DPKG_STATUS, dpkgWants } from './dpkg.js';
import { catalogGo, goProbe } from './golang.js';
import { catalogJava, javaProbe } from './java.js';
import { readImageFiles, type ImageFiles } from './layers.js';
import type { Sbom, SbomPackage } from './model.js';
import { catalogNpm, npmWants } from './npm.js';
import { OS_RELEASE_PATHS, parseOsRelease } from './osrelease.js';
import { catalogPython, normalise, pythonWants } from './python.js';
import { catalogRpm, RPMDB_PATHS, rpmWants } from './rpm.js';

export interface CatalogOptions {
  /** List the files each package owns (dpkg `.list`, apk `R:`, rpm's file tags). */
  files?: boolean;
  /** The name to give the image in the SBOM (default: its digest). */
  name?: string;
}

/** Reads an image's layers once and runs every cataloger over what it kept. */
export async function catalogLayers(
  layers: (() => Promise<Readable>)[],
  o: CatalogOptions = {},
): Promise<ImageFiles & { packages: SbomPackage[]; distro?: Sbom['distro'] }> {
  const withFiles = !!o.files;
  const files = await readImageFiles(layers, {
    want: (p) =>
      OS_RELEASE_PATHS.includes(p) ||
      p === APK_INSTALLED ||
      dpkgWants(p, withFiles) ||
      rpmWants(p) ||
      npmWants(p) ||
      pythonWants(p),
    history: (p) => p === DPKG_STATUS || p === APK_INSTALLED || RPMDB_PATHS.includes(p),
    probe: (path, mode, size) => javaProbe(path, mode, size) ?? goProbe(path, mode, size),
  });
  let distro: Sbom['distro'];
  for (const p of OS_RELEASE_PATHS) {
    const f = files.files.get(p);
    if (f && (distro = parseOsRelease(f.data.toString('utf8')))) break;
  }
  const packages = [
    ...catalogDpkg(files, distro, withFiles),
    ...catalogApk(files, distro, withFiles),
    ...catalogRpm(files, distro, withFiles),
    ...catalogNpm(files),
    ...catalogPython(files),
    ...catalogGo(files),
    ...catalogJava(files),
  ];
  packages.sort(
    (a, b) =>
      a.type.localeCompare(b.type) ||
      a.name.localeCompare(b.name) ||
      a.version.localeCompare(b.version) ||
      a.locations[0]!.localeCompare(b.locations[0]!),
  );
  return { ...files, packages, ...(distro ? { distro } : {}) };
}

/** The SBOM of one image (a resolved image manifest, see analysis/resolve.ts). */
export async function catalogImage(r: ResolvedImage, o: CatalogOptions = {}): Promise<Sbom> {
  const { packages, distro, warnings } = await catalogLayers(
    r.layers.map((l) => l.uncompressed),
    o,
  );
  const p = configPlatform(r.config);
  const diffIds = r.config.rootfs.diff_ids;
  return {
    image: {
      name: o.name ?? r.image.descriptor.digest,
      digest: r.image.descriptor.digest,
      platform: { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) },
      layers: r.layers.map((l, i) => diffIds[i] ?? l.descriptor.digest),
    },
    ...(distro ? { distro } : {}),
    packages,
    warnings,
  };
}

/** The name a dependency is matched by: pypi names compare normalised, the rest exactly. */
const matchName = (p: SbomPackage, n: string) => (p.type === 'python' ? normalise(n) : n);

/**
 * Dependency edges between packages of the SBOM, by index: only where the metadata names a package the image holds (or
 * a name it provides).
 */
export function dependencyEdges(packages: SbomPackage[]): [number, number][] {
  const byName = new Map<string, number[]>();
  const add = (k: string, i: number) => {
    const a = byName.get(k);
    if (!a) byName.set(k, [i]);
    else if (!a.includes(i)) a.push(i);
  };
  packages.forEach((p, i) => {
    add(`${p.type}\u0000${matchName(p, p.name)}`, i);
    for (const v of p.provides ?? []) add(`${p.type}\u0000${v}`, i);
  });
  const byLocation = new Map<string, number>();
  packages.forEach((p, i) => p.type === 'npm' && byLocation.set(p.locations[0]!, i));
  const out: [number, number][] = [];
  packages.forEach((p, i) => {
    const seen = new Set<number>();
    for (const d of p.dependsOn ?? []) {
      const npm = p.type === 'npm' ? nodeResolve(byLocation, p.locations[0]!, d) : undefined;
      const candidates =
        npm !== undefined ? [npm] : p.type === 'npm' ? [] : (byName.get(`${p.type}\u0000${matchName(p, d)}`) ?? []);
      // Go modules depend only within their own binary.
      for (const j of candidates.filter((j) => p.type !== 'go' || packages[j]!.locations[0] === p.locations[0])) {
        if (j !== i && !seen.has(j)) {
          seen.add(j);
          out.push([i, j]);
        }
      }
    }
  });
  return out;
}

/**
 * Node's lookup of `dep` from a package at `…/node_modules/NAME/package.json`: its own node_modules, then each
 * parent's.
 */
function nodeResolve(byLocation: Map<string, number>, from: string, dep: string): number | undefined {
  let dir = from.slice(0, from.lastIndexOf('/'));
  for (;;) {
    const hit = byLocation.get(`${dir}/node_modules/${dep}/package.json`);
    if (hit !== undefined) return hit;
    const i = dir.lastIndexOf('/node_modules/');
    if (i < 0) return byLocation.get(`/node_modules/${dep}/package.json`);
    dir = dir.slice(0, i);
  }
}
