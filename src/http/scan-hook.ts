/** The hook of vulnerability scanning in the HTTP layer (implemented in src/scan/registry/, wired by src/server/). */
import type { Digest } from '../oci/digest.js';
import type { ManifestRecord } from '../registry/registry.js';

/** Decides manifest GETs and HEADs: throws 403 DENIED to refuse one (`verify.rules`, `scan.policy`). */
export interface ManifestGate {
  /** Whether a rule applies to `repo` (a repository no rule names costs no lookup). */
  covers(repo: string): boolean;
  check(repo: string, record: ManifestRecord): Promise<void>;
}

export interface ScanHook {
  /** After a manifest PUT succeeded: records it (and an index's children) for scanning, before the 201. */
  pushed(repo: string, digest: Digest, bytes: Buffer, mediaType: string | undefined): Promise<void>;
  /** `scan.policy`: pulls refused by severity; absent when no rule is configured. */
  gate?: ManifestGate;
  /** `GET /admin/v1/scans/{repo}/{digest}`: the stored report, or undefined when not scanned. */
  report(repo: string, digest: Digest): Promise<unknown>;
}

/** Gates applied one after the other (the first refusal wins). */
export function chainGates(gates: (ManifestGate | undefined)[]): ManifestGate | undefined {
  const all = gates.filter((g): g is ManifestGate => g !== undefined);
  if (all.length <= 1) return all[0];
  return {
    covers: (repo) => all.some((g) => g.covers(repo)),
    async check(repo, record) {
      for (const g of all) if (g.covers(repo)) await g.check(repo, record);
    },
  };
}
