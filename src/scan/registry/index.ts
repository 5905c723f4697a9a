/** Scanning in `kura serve`: scan on push, re-matching on a new database, the pull policy, the admin report. */
import type { ScanRecord, ScanTable } from '../../metadata/types.js';
import type { Digest } from '../../oci/digest.js';
import { parseManifest } from '../../oci/manifest.js';
import { isIndexMediaType } from '../../oci/mediatypes.js';
import type { Registry } from '../../registry/registry.js';
import { ScanPolicy, type ScanRule } from './policy.js';
import { RegistryScanner } from './scanner.js';

export { countAtLeast, ScanPolicy, type ScanRule } from './policy.js';
export { RegistryScanner, type ScannerOptions } from './scanner.js';
export { defaultDbFile } from '../db-path.js';

export interface ScanningOptions {
  onPush: boolean;
  concurrency: number;
  dbFile: string;
  recheckMs: number;
  policy: ScanRule[];
  warn: (msg: string) => void;
}

/** Counts per severity of one manifest, as lists show them (the web UI); null counts until it is scanned. */
export interface ScanSummary {
  state: ScanRecord['state'];
  counts: Record<string, number> | null;
  generation: string | null;
}

/** One manifest's row as the admin API shows it: the report in `kura scan --format json`'s shape, and its state. */
function shown(row: ScanRecord): Record<string, unknown> | undefined {
  if (row.state === 'pending') return undefined;
  const base = { state: row.state, generation: row.generation, scannedAt: new Date(row.updatedAt).toISOString() };
  if (row.state === 'done' && row.report) return { ...(JSON.parse(row.report) as object), ...base };
  return { digest: row.digest, ...base, ...(row.error ? { error: row.error } : {}) };
}

export class Scanning {
  readonly scanner: RegistryScanner | undefined;
  readonly gate: ScanPolicy | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly table: ScanTable,
    o: ScanningOptions,
  ) {
    this.scanner = o.onPush
      ? new RegistryScanner({
          registry,
          table,
          dbFile: o.dbFile,
          concurrency: o.concurrency,
          recheckMs: o.recheckMs,
          warn: o.warn,
        })
      : undefined;
    this.gate = o.policy.length > 0 ? new ScanPolicy(registry, table, o.policy) : undefined;
    // Pending rows of a previous run (a crash or a stop mid-scan) are scanned again now.
    this.scanner?.kick();
  }

  async pushed(repo: string, digest: Digest, bytes: Buffer, mediaType: string | undefined): Promise<void> {
    await this.scanner?.pushed(repo, digest, bytes, mediaType);
  }

  /** Counts per severity per manifest, for lists of many (one query). */
  async scanSummary(digests: Digest[]): Promise<Map<Digest, ScanSummary>> {
    const out = new Map<Digest, ScanSummary>();
    for (const r of await this.table.getMany(digests)) {
      const counts = r.summary ? (JSON.parse(r.summary) as Record<string, number>) : null;
      out.set(r.digest, { state: r.state, counts, generation: r.generation });
    }
    return out;
  }

  /** The admin API's answer for `repo@digest` (an index: each child's); undefined when not in repo or not scanned. */
  async report(repo: string, digest: Digest): Promise<unknown> {
    let record;
    try {
      record = await this.registry.statManifest(repo, digest);
    } catch {
      return undefined;
    }
    if (!isIndexMediaType(record.mediaType)) {
      const row = await this.table.get(digest);
      return row ? shown(row) : undefined;
    }
    const p = parseManifest(await this.registry.manifestBytes(digest), record.mediaType, { lenientMediaType: true });
    const entries = p.kind === 'index' ? p.manifest.manifests.filter((m) => !m.artifactType) : [];
    const rows = new Map((await this.table.getMany(entries.map((m) => m.digest))).map((r) => [r.digest, r]));
    const manifests = entries.map((m) => {
      const row = rows.get(m.digest);
      return {
        digest: m.digest,
        platform: m.platform ?? null,
        scan: row ? (shown(row) ?? { state: 'pending' }) : null,
      };
    });
    if (!manifests.some((m) => m.scan && m.scan.state !== 'pending')) return undefined;
    return { digest, mediaType: record.mediaType, manifests };
  }

  async close(): Promise<void> {
    await this.scanner?.close();
  }
}
