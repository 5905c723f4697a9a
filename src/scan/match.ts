/**
 * Matching an image's packages against the advisory database: one query per package (ecosystems.ts), range
 * evaluation per affected entry (ranges.ts), records about the same vulnerability (aliases, upstream) collapsed.
 */
import type { Sbom, SbomPackage } from '../sbom/model.js';
import type { AdvisoryDb } from './db.js';
import { normalizeName, queryFor } from './ecosystems.js';
import type { OsvRecord } from './osv.js';
import { isAffected } from './ranges.js';
import { severityOf, type Severity } from './severity.js';

/** One vulnerability in one package. */
export interface Finding {
  /** The CVE id when one of the records names it, else the first record's id. */
  id: string;
  /** Every other id of the same vulnerability (GHSA, DSA, DEBIAN-CVE, …), sorted. */
  aliases: string[];
  pkg: { name: string; version: string; type: string; purl: string; layer: number; locations: string[] };
  /** The OSV package and version matched (a Debian binary package is matched as its source package). */
  matched: { ecosystem: string; name: string; version: string };
  fixed: string[];
  severity: Severity;
  summary?: string;
  link?: string;
  /** The OpenVEX statement that kept it (affected or under_investigation), when one speaks of it. */
  vex?: { status: 'affected' | 'under_investigation'; detail?: string; where: string };
}

export interface ScanResult {
  findings: Finding[];
  /** Packages looked up, and those Kura could not place in an ecosystem (unknown distro, no Maven group). */
  packages: { scanned: number; skipped: number };
  warnings: string[];
}

const DISTRO_TYPES = new Set(['deb', 'apk', 'rpm']);

/** Groups records that name each other (id, aliases, upstream) into one vulnerability each. */
function collapse(records: OsvRecord[]): OsvRecord[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x) ?? (parent.set(x, x), x);
    return x;
  };
  const union = (a: string, b: string) => parent.set(find(a), find(b));
  for (const r of records) {
    find(r.id);
    for (const a of [...(r.aliases ?? []), ...(r.upstream ?? [])]) union(a, r.id);
  }
  const groups = new Map<string, OsvRecord[]>();
  for (const r of records) {
    const k = find(r.id);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()];
}

function findingOf(p: SbomPackage, matched: Finding['matched'], group: OsvRecord[], fixed: Set<string>): Finding {
  const ids = new Set<string>();
  for (const r of group) for (const x of [r.id, ...(r.aliases ?? []), ...(r.upstream ?? [])]) ids.add(x);
  const sorted = [...ids].sort();
  const id = sorted.find((x) => x.startsWith('CVE-')) ?? group[0]!.id;
  const withSummary = group.find((r) => r.summary);
  const link = group.flatMap((r) => r.references ?? [])[0]?.url;
  return {
    id,
    aliases: sorted.filter((x) => x !== id),
    pkg: { name: p.name, version: p.version, type: p.type, purl: p.purl, layer: p.layer, locations: p.locations },
    matched,
    fixed: [...fixed].sort(),
    severity: severityOf(group, DISTRO_TYPES.has(p.type)),
    ...(withSummary?.summary ? { summary: withSummary.summary } : {}),
    ...(link ? { link } : { link: `https://osv.dev/vulnerability/${group[0]!.id}` }),
  };
}

/** Every vulnerability of every package of an SBOM the database knows of. */
export function matchSbom(sbom: Pick<Sbom, 'packages' | 'distro'>, db: AdvisoryDb): ScanResult {
  const findings: Finding[] = [];
  const warnings = new Set<string>();
  let scanned = 0;
  let skipped = 0;
  for (const p of sbom.packages) {
    const q = queryFor(p, sbom.distro);
    if (!q) {
      skipped++;
      continue;
    }
    scanned++;
    const hits: OsvRecord[] = [];
    const fixedBy = new Map<string, Set<string>>();
    let ecosystem = q.ecosystems[0]!;
    for (const r of db.recordsFor(q.ecosystems, q.name)) {
      const fixed = new Set<string>();
      let hit = false;
      for (const a of r.affected ?? []) {
        if (!a.package) continue;
        const eco = a.package.ecosystem;
        const inQuery = q.ecosystems.some((e) => (e.endsWith(':') ? eco.startsWith(e) : eco === e));
        if (!inQuery || normalizeName(eco, a.package.name) !== normalizeName(eco, q.name)) continue;
        const v = isAffected(a, q.version, (e) =>
          warnings.add(`${r.id}: ${e.message}; ${p.name} ${p.version} is not matched against it`),
        );
        if (v.affected) {
          hit = true;
          ecosystem = eco;
          for (const f of v.fixed) fixed.add(f);
        }
      }
      if (hit) {
        hits.push(r);
        fixedBy.set(r.id, fixed);
      }
    }
    for (const group of collapse(hits)) {
      const fixed = new Set(group.flatMap((r) => [...(fixedBy.get(r.id) ?? [])]));
      findings.push(findingOf(p, { ecosystem, name: q.name, version: q.version }, group, fixed));
    }
  }
  return { findings, packages: { scanned, skipped }, warnings: [...warnings] };
}
