/**
 * The advisory database: OSV records in SQLite, indexed by ecosystem and package name. Writers build a new file
 * beside the old one and rename it into place, so readers always see a whole database.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ecosystemBase, normalizeName } from './ecosystems.js';
import type { OsvRecord } from './osv.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY, source TEXT NOT NULL, modified TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS affects (
  name TEXT NOT NULL, ecosystem TEXT NOT NULL, record TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS affects_by_package ON affects(name, ecosystem);
CREATE INDEX IF NOT EXISTS affects_by_record ON affects(record);
CREATE TABLE IF NOT EXISTS sources (
  name TEXT PRIMARY KEY, imported_at TEXT NOT NULL, records INTEGER NOT NULL, withdrawn INTEGER NOT NULL,
  etag TEXT, last_modified TEXT);
`;

/** One imported source: a zip, directory or file name, or an ecosystem of `kura db update`. */
export interface SourceInfo {
  name: string;
  importedAt: string;
  records: number;
  withdrawn: number;
  etag?: string;
  lastModified?: string;
}

/**
 * What is stored of a record: the fields matching and reporting read. Dropped: details, all references but the
 * link, database_specific but GHSA's severity, ecosystem_specific but Debian's urgency (Ubuntu's lists of binaries
 * are large), and the affected entries' database_specific.
 */
function stored(r: OsvRecord): string {
  const refs = r.references ?? [];
  const link = refs.find((x) => x.type === 'ADVISORY') ?? refs.find((x) => x.type === 'WEB');
  const { details: _details, references: _refs, database_specific: db, affected, ...rest } = r;
  const severity = db?.severity;
  return JSON.stringify({
    ...rest,
    ...(link ? { references: [link] } : {}),
    ...(severity !== undefined ? { database_specific: { severity } } : {}),
    ...(affected
      ? {
          affected: affected.map(({ database_specific: _d, ecosystem_specific: eco, ...a }) =>
            eco?.urgency !== undefined ? { ...a, ecosystem_specific: { urgency: eco.urgency } } : a,
          ),
        }
      : {}),
  });
}

/** Parsed records an open database keeps. */
const PARSED_MAX = 50_000;

/** A read-only view of a database file. */
export class AdvisoryDb {
  private readonly exact: Database.Statement;
  private readonly prefixed: Database.Statement;
  /** Records parsed once, whatever number of packages they affect (dropped whole past PARSED_MAX: a server keeps
   * its database open). */
  private readonly parsed = new Map<string, OsvRecord>();

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {
    const select = 'SELECT r.id, r.doc FROM affects a JOIN records r ON r.id = a.record WHERE a.name = ?';
    this.exact = db.prepare(`${select} AND a.ecosystem = ?`).raw();
    this.prefixed = db.prepare(`${select} AND a.ecosystem >= ? AND a.ecosystem < ?`).raw();
  }

  /** Opens an existing database for reading; throws with the way to make one when there is none. */
  static open(file: string): AdvisoryDb {
    if (!existsSync(file))
      throw new Error(`no advisory database at ${file}; run "kura db import PATH" or "kura db update" first`);
    const db = new Database(file, { readonly: true, fileMustExist: true });
    // Pages read through a mapping rather than a read(2) each: a scan touches a few thousand scattered pages.
    db.pragma('mmap_size = 1073741824');
    return new AdvisoryDb(db, file);
  }

  /**
   * Records affecting a package name in any of the ecosystems (an entry ending in `:` is a prefix): one indexed
   * lookup per ecosystem (name and ecosystem), each record's document parsed once.
   */
  recordsFor(ecosystems: string[], name: string): OsvRecord[] {
    const out = new Map<string, OsvRecord>();
    for (const eco of ecosystems) {
      const key = normalizeName(eco, name);
      // A prefix `P:` covers the ecosystems from `P:` up to `P;` (the character after `:`).
      const rows = (
        eco.endsWith(':') ? this.prefixed.all(key, eco, `${eco.slice(0, -1)};`) : this.exact.all(key, eco)
      ) as [string, string][];
      for (const [id, doc] of rows) {
        if (out.has(id)) continue;
        let r = this.parsed.get(id);
        if (!r) {
          if (this.parsed.size >= PARSED_MAX) this.parsed.clear();
          this.parsed.set(id, (r = JSON.parse(doc) as OsvRecord));
        }
        out.set(id, r);
      }
    }
    return [...out.values()];
  }

  sources(): SourceInfo[] {
    const rows = this.db.prepare('SELECT * FROM sources ORDER BY name').all() as Record<string, unknown>[];
    return rows.map((r) => ({
      name: r.name as string,
      importedAt: r.imported_at as string,
      records: r.records as number,
      withdrawn: r.withdrawn as number,
      ...(r.etag ? { etag: r.etag as string } : {}),
      ...(r.last_modified ? { lastModified: r.last_modified as string } : {}),
    }));
  }

  /** Record counts per ecosystem base (Debian, npm, …). */
  counts(): Record<string, number> {
    const rows = this.db
      .prepare('SELECT ecosystem, COUNT(DISTINCT record) AS n FROM affects GROUP BY ecosystem')
      .all() as { ecosystem: string; n: number }[];
    const out: Record<string, number> = {};
    for (const r of rows) out[ecosystemBase(r.ecosystem)] = (out[ecosystemBase(r.ecosystem)] ?? 0) + r.n;
    return out;
  }

  close(): void {
    this.db.close();
  }
}

/** A database being written: a temp copy of the current one, renamed over it by commit(). */
export class DbWriter {
  private readonly db: Database.Database;
  private readonly tmp: string;
  private readonly insRecord: Database.Statement;
  private readonly insAffects: Database.Statement;
  private readonly delRecord: Database.Statement;
  private readonly delAffects: Database.Statement;
  private count = { records: 0, withdrawn: 0 };
  /**
   * Bulk mode, for a database that starts empty: the affects indexes are built once at commit (not row by row), and
   * ids and sources seen are tracked here, so nothing is deleted unless it was written by this import.
   */
  private fresh?: { ids: Set<string>; sources: Set<string>; byRecord: boolean };

  constructor(readonly file: string) {
    this.tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
    rmSync(this.tmp, { force: true });
    if (existsSync(file)) copyFileSync(file, this.tmp);
    this.db = new Database(this.tmp);
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.insRecord = this.db.prepare('INSERT OR REPLACE INTO records (id, source, modified, doc) VALUES (?, ?, ?, ?)');
    this.insAffects = this.db.prepare('INSERT INTO affects (name, ecosystem, record) VALUES (?, ?, ?)');
    this.delRecord = this.db.prepare('DELETE FROM records WHERE id = ?');
    this.delAffects = this.db.prepare('DELETE FROM affects WHERE record = ?');
    this.db.exec('BEGIN');
    if (!this.db.prepare('SELECT 1 FROM records LIMIT 1').get()) {
      this.db.exec('DROP INDEX affects_by_package; DROP INDEX affects_by_record');
      this.fresh = { ids: new Set(), sources: new Set(), byRecord: false };
    }
  }

  /** In bulk mode, whether ID (or source) may have rows to delete; the first one builds the index deletes use. */
  private mayHave(seen: Set<string>, key: string): boolean {
    if (!this.fresh) return true;
    if (!seen.has(key)) return false;
    if (!this.fresh.byRecord) this.db.exec('CREATE INDEX affects_by_record ON affects(record)');
    this.fresh.byRecord = true;
    return true;
  }

  /** Starts a source: its earlier records go (a source is replaced whole). */
  beginSource(name: string): void {
    if (this.mayHave(this.fresh?.sources ?? new Set(), name))
      this.db.prepare('DELETE FROM records WHERE source = ?').run(name);
    this.fresh?.sources.add(name);
    this.count = { records: 0, withdrawn: 0 };
  }

  /** Adds one record of the current source; withdrawn records are counted and not stored. */
  add(source: string, r: OsvRecord): void {
    const old = this.mayHave(this.fresh?.ids ?? new Set(), r.id);
    if (r.withdrawn) {
      this.count.withdrawn++;
      if (old) this.delRecord.run(r.id);
      return;
    }
    if (old) this.delAffects.run(r.id);
    this.fresh?.ids.add(r.id);
    this.insRecord.run(r.id, source, r.modified, stored(r));
    const seen = new Set<string>();
    for (const a of r.affected ?? []) {
      if (!a.package) continue;
      const key = `${a.package.ecosystem}\u0000${normalizeName(a.package.ecosystem, a.package.name)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.insAffects.run(normalizeName(a.package.ecosystem, a.package.name), a.package.ecosystem, r.id);
    }
    this.count.records++;
  }

  /** Ends a source: its row in `sources` (with the HTTP validators of an update). */
  endSource(name: string, validators: { etag?: string; lastModified?: string } = {}): SourceInfo {
    const info: SourceInfo = { name, importedAt: new Date().toISOString(), ...this.count, ...validators };
    this.db
      .prepare('INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)')
      .run(name, info.importedAt, info.records, info.withdrawn, info.etag ?? null, info.lastModified ?? null);
    return info;
  }

  /** Makes the new database the current one (one rename). */
  commit(): void {
    if (this.fresh) this.db.exec(SCHEMA);
    this.db.exec('COMMIT');
    this.db.close();
    renameSync(this.tmp, this.file);
  }

  /** Drops the new database; the current one stays as it was. */
  abort(): void {
    try {
      this.db.close();
    } finally {
      rmSync(this.tmp, { force: true });
    }
  }
}
