/** Reading OSV records from what users have: osv.dev's per-ecosystem zips, directories of JSON files, single files. */
import { open as openFile, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseOsv, type OsvRecord } from './osv.js';
import { zipEntries } from './zip.js';

/** Every record of a zip, in order; a damaged zip or entry throws naming the zip. */
export async function* zipRecords(file: string): AsyncGenerator<OsvRecord> {
  const entries = zipEntries(file, (name) => name.endsWith('.json'));
  for (;;) {
    let next: IteratorResult<[string, Buffer]>;
    try {
      next = await entries.next();
    } catch (e) {
      throw new Error(`${file}: not a readable zip (${(e as Error).message})`);
    }
    if (next.done) return;
    const [name, data] = next.value;
    yield parseOsv(data.toString('utf8'), `${file}: ${name}`);
  }
}

async function* dirRecords(dir: string): AsyncGenerator<OsvRecord> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* dirRecords(p);
    else if (e.isFile() && e.name.endsWith('.json')) yield parseOsv(await readFile(p, 'utf8'), p);
  }
}

/** A zip starts with `PK\x03\x04` (or is an empty zip, `PK\x05\x06`). */
async function isZip(file: string): Promise<boolean> {
  const fh = await openFile(file, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    return b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5);
  } finally {
    await fh.close();
  }
}

/** The records at PATH: a zip, a directory (recursively, `*.json`), or one JSON file. */
export async function* recordsAt(path: string): AsyncGenerator<OsvRecord> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new Error(`${path}: no such file or directory; give an OSV zip, a directory of OSV JSON files or one file`);
  }
  if (st.isDirectory()) yield* dirRecords(path);
  else if (await isZip(path)) yield* zipRecords(path);
  else yield parseOsv(await readFile(path, 'utf8'), path);
}
