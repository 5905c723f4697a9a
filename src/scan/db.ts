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

/** What is stored of a record: the fields matching and reporting read (details and most references dropped). */
function stored(r: OsvRecord): string {
  const refs = r.references ?? [];
  const link = refs.find((x) => x.type === 'ADVISORY') ?? refs.find((x) => x.type === 'WEB');
  const { details: _details, references: _refs, ...rest } = r;
  return JSON.stringify({ ...rest, ...(link ? { references: [link] } : {}) });
}

/** A read-only view of a database file. */
export class AdvisoryDb {
  private readonly byName: Database.Statement;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {
    this.byName = db.prepare(
      'SELECT r.id, r.doc, a.ecosystem FROM affects a JOIN records r ON r.id = a.record WHERE a.name = ?',
    );
  }

  /** Opens an existing database for reading; throws with the way to make one when there is none. */
  static open(file: string): AdvisoryDb {
    if (!existsSync(file))
      throw new Error(`no advisory database at ${file}; run "kura db import PATH" or "kura db update" first`);
    return new AdvisoryDb(new Database(file, { readonly: true, fileMustExist: true }), file);
  }

  /** Records affecting a package name in any of the ecosystems (an entry ending in `:` is a prefix). */
  recordsFor(ecosystems: string[], name: string): OsvRecord[] {
    const out = new Map<string, OsvRecord>();
    for (const eco of ecosystems) {
      const key = normalizeName(eco, name);
      for (const row of this.byName.all(key) as { id: string; doc: string; ecosystem: string }[]) {
        const hit = eco.endsWith(':') ? row.ecosystem.startsWith(eco) : row.ecosystem === eco;
        if (hit && !out.has(row.id)) out.set(row.id, JSON.parse(row.doc) as OsvRecord);
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
  private count = { records: 0, withdrawn: 0 };

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
    this.db.exec('BEGIN');
  }

  /** Starts a source: its earlier records go (a source is replaced whole). */
  beginSource(name: string): void {
    this.db.prepare('DELETE FROM records WHERE source = ?').run(name);
    this.count = { records: 0, withdrawn: 0 };
  }

  /** Adds one record of the current source; withdrawn records are counted and not stored. */
  add(source: string, r: OsvRecord): void {
    if (r.withdrawn) {
      this.count.withdrawn++;
      this.db.prepare('DELETE FROM records WHERE id = ?').run(r.id);
      return;
    }
    this.db.prepare('DELETE FROM affects WHERE record = ?').run(r.id);
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
