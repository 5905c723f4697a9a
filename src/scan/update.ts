/**
 * `kura db update`: osv.dev's per-ecosystem exports (`BASE/ECOSYSTEM/all.zip`) downloaded with the validators of
 * the last download (If-None-Match / If-Modified-Since: a 304 keeps what is there), resumed with Range/If-Range
 * after an interrupted download, and imported into a new database renamed into place only when every zip reads.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { AdvisoryDb, DbWriter } from './db.js';
import { zipRecords } from './osv-files.js';

export const DEFAULT_BASE_URL = 'https://osv-vulnerabilities.storage.googleapis.com';
export const DEFAULT_ECOSYSTEMS = [
  'Debian',
  'Ubuntu',
  'Alpine',
  'Red Hat',
  'Rocky Linux',
  'AlmaLinux',
  'npm',
  'PyPI',
  'Go',
  'Maven',
];

export interface UpdateResult {
  ecosystem: string;
  status: 'updated' | 'not modified';
  records?: number;
  bytes?: number;
  resumed?: boolean;
}

interface Validators {
  etag?: string;
  lastModified?: string;
}

/** The source name an ecosystem's download is kept under in the database. */
export const sourceName = (ecosystem: string) => `osv:${ecosystem}`;

/** Downloads one zip into `part` (resuming it when the server allows); undefined on 304. */
async function download(
  url: string,
  part: string,
  known: Validators,
): Promise<{ validators: Validators; bytes: number; resumed: boolean } | undefined> {
  const partMeta = `${part}.validators`;
  const have = existsSync(part) ? (await stat(part)).size : 0;
  const partValidators =
    have && existsSync(partMeta) ? (JSON.parse(await readFile(partMeta, 'utf8')) as Validators) : {};
  const headers: Record<string, string> = {};
  const ifRange = partValidators.etag ?? partValidators.lastModified;
  if (have && ifRange) {
    headers.range = `bytes=${have}-`;
    headers['if-range'] = ifRange;
  } else {
    if (known.etag) headers['if-none-match'] = known.etag;
    if (known.lastModified) headers['if-modified-since'] = known.lastModified;
  }
  let res: Response;
  try {
    res = await fetch(url, { headers });
  } catch (e) {
    throw new Error(`${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  if (res.status === 304) return undefined;
  if (res.status !== 200 && res.status !== 206)
    throw new Error(`${url}: ${res.status} ${res.statusText}; check --base-url (or $KURA_DB_URL)`);
  const resumed = res.status === 206;
  const validators: Validators = {
    ...(res.headers.get('etag') ? { etag: res.headers.get('etag')! } : {}),
    ...(res.headers.get('last-modified') ? { lastModified: res.headers.get('last-modified')! } : {}),
  };
  if (!resumed) await writeFile(partMeta, JSON.stringify(validators));
  // Each chunk is written before the next is read: what arrived before a cut is on disk to resume from.
  const fh = await open(part, resumed ? 'a' : 'w');
  try {
    for await (const chunk of Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream))
      await fh.write(chunk as Uint8Array);
  } catch (e) {
    throw new Error(
      `${url}: the download was interrupted (${(e as Error).message}); run "kura db update" again to resume`,
    );
  } finally {
    await fh.close();
  }
  return { validators: resumed ? partValidators : validators, bytes: (await stat(part)).size, resumed };
}

/** Updates the database at `dbFile` from `baseUrl` for the ecosystems; the old database stays on any failure. */
export async function updateDb(dbFile: string, baseUrl: string, ecosystems: string[]): Promise<UpdateResult[]> {
  const dir = dirname(dbFile);
  await mkdir(dir, { recursive: true });
  const known = new Map<string, Validators>();
  if (existsSync(dbFile)) {
    const db = AdvisoryDb.open(dbFile);
    for (const s of db.sources()) known.set(s.name, { etag: s.etag, lastModified: s.lastModified });
    db.close();
  }
  const results: UpdateResult[] = [];
  const fetched: { ecosystem: string; part: string; validators: Validators }[] = [];
  for (const ecosystem of ecosystems) {
    const url = `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(ecosystem)}/all.zip`;
    const part = join(dir, `.${ecosystem.replace(/[^\w.-]+/g, '_')}.zip.part`);
    const got = await download(url, part, known.get(sourceName(ecosystem)) ?? {});
    if (!got) results.push({ ecosystem, status: 'not modified' });
    else {
      fetched.push({ ecosystem, part, validators: got.validators });
      results.push({ ecosystem, status: 'updated', bytes: got.bytes, resumed: got.resumed });
    }
  }
  if (!fetched.length) return results;
  const w = new DbWriter(dbFile);
  try {
    for (const f of fetched) {
      const name = sourceName(f.ecosystem);
      w.beginSource(name);
      for await (const r of zipRecords(f.part)) w.add(name, r);
      results.find((r) => r.ecosystem === f.ecosystem)!.records = w.endSource(name, f.validators).records;
    }
    w.commit();
  } catch (e) {
    w.abort();
    // A zip that does not read is not resumed next time: it is fetched again whole.
    for (const f of fetched)
      await Promise.all([rm(f.part, { force: true }), rm(`${f.part}.validators`, { force: true })]);
    throw e;
  }
  for (const f of fetched)
    await Promise.all([rm(f.part, { force: true }), rm(`${f.part}.validators`, { force: true })]);
  return results;
}
