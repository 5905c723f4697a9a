/** Reading OSV records from what users have: osv.dev's per-ecosystem zips, directories of JSON files, single files. */
import { open as openFile, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { parseOsv, type OsvRecord } from './osv.js';

/** Entries decompressed at a time: bounds the memory a zip of hundreds of thousands of records needs. */
const BATCH = 5_000;

/**
 * Every record of a zip, in order. fflate reads the zip from memory (its central directory, then the entries of one
 * batch at a time); a damaged zip or entry throws naming the zip.
 */
export async function* zipRecords(file: string): AsyncGenerator<OsvRecord> {
  const zip = await readFile(file);
  const bad = (e: unknown) => new Error(`${file}: not a readable zip (${(e as Error).message})`);
  for (let start = 0; ; start += BATCH) {
    let index = -1;
    let more = false;
    let files: Record<string, Uint8Array>;
    try {
      files = unzipSync(zip, {
        filter: (f) => {
          index++;
          if (index >= start + BATCH) more = true;
          return index >= start && index < start + BATCH && f.name.endsWith('.json');
        },
      });
    } catch (e) {
      throw bad(e);
    }
    for (const [name, data] of Object.entries(files))
      yield parseOsv(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'), `${file}: ${name}`);
    if (!more) return;
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
