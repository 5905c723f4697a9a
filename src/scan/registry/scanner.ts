/**
 * Scan on push (`scan.onPush`): pushed image manifests are recorded as pending in the metadata store's `scans`
 * role, scanned in the background from their SBOM (layers read from the registry's own stores, bounded
 * concurrency), and re-matched from the kept package list whenever the advisory database gets a new generation.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolveImage } from '../../analysis/resolve.js';
import type { ScanRecord, ScanTable } from '../../metadata/types.js';
import type { Artifact } from '../../oci/artifact.js';
import type { Digest } from '../../oci/digest.js';
import { parseManifest } from '../../oci/manifest.js';
import type { Registry } from '../../registry/registry.js';
import { catalogImage } from '../../sbom/catalog.js';
import type { Sbom } from '../../sbom/model.js';
import { AdvisoryDb } from '../db.js';
import { countBySeverity, renderReport } from '../report.js';
import { scanSbom } from '../scan.js';

export interface ScannerOptions {
  registry: Registry;
  table: ScanTable;
  /** The advisory database file (`kura db import` writes it); scans wait while it is missing. */
  dbFile: string;
  concurrency: number;
  /** How often the database file is checked for a new generation (ms). */
  recheckMs: number;
  warn: (msg: string) => void;
  now?: () => number;
}

/** What is kept of an image's SBOM to re-match it without reading its layers again. */
interface KeptPackages {
  packages: Sbom['packages'];
  distro?: Sbom['distro'];
  layers: string[];
}

const IMAGE_LAYER = /^application\/vnd\.(oci\.image\.layer\.|docker\.image\.rootfs\.)/;
const BATCH = 32;

/** A manifest's children to scan (an index) or itself (an image); attachments and others are recorded as skipped. */
function scanTargets(bytes: Buffer, mediaType: string | undefined, digest: Digest): Digest[] {
  let p;
  try {
    p = parseManifest(bytes, mediaType, { lenientMediaType: true });
  } catch {
    return [];
  }
  if (p.kind === 'index') return p.manifest.manifests.filter((m) => !m.artifactType).map((m) => m.digest);
  return [digest];
}

export class RegistryScanner {
  private db: { handle: AdvisoryDb; id: string; generation: string } | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  /** Scans and re-matches done since start, for tests and logs. */
  readonly counts = { scanned: 0, rematched: 0, failed: 0 };

  constructor(private readonly o: ScannerOptions) {
    this.now = o.now ?? Date.now;
    this.timer = setInterval(() => this.kick(), Math.max(50, o.recheckMs));
    this.timer.unref();
  }

  /** The current database generation: a hash of its sources and their import times (undefined without one). */
  generation(): string | undefined {
    return this.openDb()?.generation;
  }

  /** Records a pushed manifest (an index: its children) as pending, then starts scanning in the background. */
  async pushed(repo: string, digest: Digest, bytes: Buffer, mediaType: string | undefined): Promise<void> {
    for (const d of scanTargets(bytes, mediaType, digest)) await this.o.table.enqueue(d, repo, this.now());
    this.kick();
  }

  /** Starts a pass over pending and stale rows unless one runs (then one more pass follows it). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (e) {
          this.o.warn(`scan: ${(e as Error).message}`);
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.running = undefined));
  }

  /** Resolves when no pass is running (tests, close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.idle();
    this.db?.handle.close();
    this.db = undefined;
  }

  /** Scans pending rows, then re-matches rows of an older generation, in batches, until none is left. */
  private async pass(): Promise<void> {
    while (!this.closed) {
      const db = this.openDb();
      if (!db) return;
      const pending = await this.o.table.pending(BATCH);
      const work = pending.length > 0 ? pending : await this.o.table.stale(db.generation, BATCH);
      if (work.length === 0) return;
      let next = 0;
      const worker = async () => {
        while (!this.closed && next < work.length) await this.one(work[next++]!, db);
      };
      await Promise.all(Array.from({ length: Math.min(this.o.concurrency, work.length) }, worker));
    }
  }

  private async one(rec: ScanRecord, db: NonNullable<RegistryScanner['db']>): Promise<void> {
    try {
      if (rec.state === 'done' && rec.packages) {
        await this.save(rec, db, JSON.parse(rec.packages) as KeptPackages);
        this.counts.rematched++;
        return;
      }
      const kept = await this.catalog(rec);
      if (!kept) {
        await this.o.table.save({ ...rec, state: 'skipped', generation: db.generation, updatedAt: this.now() });
        return;
      }
      await this.save(rec, db, kept);
      this.counts.scanned++;
    } catch (e) {
      this.counts.failed++;
      const error = (e as Error).message.slice(0, 500);
      this.o.warn(`scan of ${rec.repository}@${rec.digest} failed: ${error}`);
      await this.o.table.save({ ...rec, state: 'failed', error, updatedAt: this.now() });
    }
  }

  /** The image's packages, read from the registry's stores; undefined for a manifest that is not an image. */
  private async catalog(rec: ScanRecord): Promise<KeptPackages | undefined> {
    const { registry } = this.o;
    const record = await registry.statManifest(rec.repository, rec.digest);
    const bytes = await registry.manifestBytes(rec.digest);
    const p = parseManifest(bytes, record.mediaType, { lenientMediaType: true });
    if (p.kind !== 'image' || !p.manifest.layers.some((l) => IMAGE_LAYER.test(l.mediaType ?? ''))) return undefined;
    const root: Artifact = {
      descriptor: { mediaType: record.mediaType, digest: rec.digest, size: record.size },
      manifest: bytes,
      blobs: { open: async (d) => (await registry.readBlob(rec.repository, d.digest)).stream },
    };
    const sbom = await catalogImage(await resolveImage(root), { name: `${rec.repository}@${rec.digest}` });
    return { packages: sbom.packages, ...(sbom.distro ? { distro: sbom.distro } : {}), layers: sbom.image.layers };
  }

  private async save(rec: ScanRecord, db: NonNullable<RegistryScanner['db']>, kept: KeptPackages): Promise<void> {
    const d = kept.distro;
    const target = {
      name: `${rec.repository}@${rec.digest}`,
      digest: rec.digest,
      layers: kept.layers,
      ...(d ? { distro: `${d.id}${d.versionId ? ` ${d.versionId}` : ''}` } : {}),
    };
    const report = scanSbom(kept, db.handle, target, { toolVersion: '0.1.0' });
    await this.o.table.save({
      ...rec,
      state: 'done',
      generation: db.generation,
      packages: JSON.stringify(kept),
      report: renderReport(report, 'json'),
      summary: JSON.stringify(countBySeverity(report.findings)),
      error: null,
      updatedAt: this.now(),
    });
  }

  /** The database, reopened when its file was replaced (an import renames a new file into place). */
  private openDb(): RegistryScanner['db'] {
    let id: string;
    try {
      const st = statSync(this.o.dbFile);
      id = `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return undefined;
    }
    if (this.db?.id === id) return this.db;
    this.db?.handle.close();
    this.db = undefined;
    const handle = AdvisoryDb.open(this.o.dbFile);
    const generation = createHash('sha256').update(JSON.stringify(handle.sources())).digest('hex').slice(0, 16);
    this.db = { handle, id, generation };
    return this.db;
  }
}
