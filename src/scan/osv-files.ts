/** Reading OSV records from what users have: osv.dev's per-ecosystem zips, directories of JSON files, single files. */
import { open as openFile, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { parseOsv, type OsvRecord } from './osv.js';

/** Every record of a zip, in order; a damaged zip or entry throws naming the zip and the entry. */
export async function* zipRecords(file: string): AsyncGenerator<OsvRecord> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false, strictFileNames: true }, (e, z) =>
      e ? reject(new Error(`${file}: not a readable zip (${e.message})`)) : resolve(z),
    ),
  );
  try {
    while (true) {
      const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
        const onEntry = (en: yauzl.Entry) => done(en);
        const onEnd = () => done(undefined);
        const onError = (e: Error) => {
          zip.off('entry', onEntry).off('end', onEnd);
          reject(new Error(`${file}: not a readable zip (${e.message})`));
        };
        const done = (en: yauzl.Entry | undefined) => {
          zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
          resolve(en);
        };
        zip.once('entry', onEntry).once('end', onEnd).once('error', onError);
        zip.readEntry();
      });
      if (!entry) return;
      if (entry.fileName.endsWith('/') || !entry.fileName.endsWith('.json')) continue;
      const text = await new Promise<string>((resolve, reject) =>
        zip.openReadStream(entry, (e, s) => {
          if (e) return reject(new Error(`${file}: ${entry.fileName}: ${e.message}`));
          const parts: Buffer[] = [];
          s.on('data', (b: Buffer) => parts.push(b));
          s.on('error', (err) => reject(new Error(`${file}: ${entry.fileName}: ${err.message}`)));
          s.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        }),
      );
      yield parseOsv(text, `${file}: ${entry.fileName}`);
    }
  } finally {
    zip.close();
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
