/** `kura db import`: OSV records from zips, directories and files into a new database, renamed into place. */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DbWriter, type SourceInfo } from './db.js';
import { recordsAt } from './osv-files.js';

/**
 * Imports each path as one source (named by its absolute path; importing it again replaces its records). All or
 * nothing: a bad record anywhere leaves the database as it was.
 */
export async function importPaths(dbFile: string, paths: string[]): Promise<SourceInfo[]> {
  mkdirSync(dirname(dbFile), { recursive: true });
  const w = new DbWriter(dbFile);
  const out: SourceInfo[] = [];
  try {
    for (const p of paths) {
      const name = resolve(p);
      w.beginSource(name);
      for await (const r of recordsAt(p)) w.add(name, r);
      out.push(w.endSource(name));
    }
    w.commit();
    return out;
  } catch (e) {
    w.abort();
    throw e;
  }
}
