/** The headers of a layer tar (path, type, mode, owner, mtime, link): read once per diff_id, kept in the cache. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { measuring } from '../oci/verify.js';

/** One tar entry as the unpacker sees it: name as written, tar-stream's type, mode, owner, mtime (s), link target. */
export type LayerEntry = [
  name: string,
  type: string,
  mode: number,
  uid: number,
  gid: number,
  mtime: number,
  link: string,
];

/** A tar header as an entry. */
export function toEntry(h: tar.Header): LayerEntry {
  const mtime = h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0;
  return [h.name, h.type ?? 'file', h.mode ?? 0, h.uid ?? 0, h.gid ?? 0, mtime, h.linkname ?? ''];
}

/** The entries of a layer tar, in order (the bodies are skipped); `through` sees the bytes on the way. */
export async function readEntries(stream: Readable, through?: Transform): Promise<LayerEntry[]> {
  const ex = tar.extract();
  const out: LayerEntry[] = [];
  const done = through ? pipeline(stream, through, ex) : pipeline(stream, ex);
  done.catch(() => undefined); // awaited below
  for await (const entry of ex) {
    out.push(toEntry(entry.header));
    entry.resume();
  }
  await done;
  return out;
}

/** Where the entries of the layer with tar digest `diffId` are kept (JSON). */
export function indexPath(cacheDir: string, diffId: string): string {
  const hex = diffId.replace(/^sha256:/, '');
  return join(cacheDir, 'layer-index', hex.slice(0, 2), `${hex}.json`);
}

/** Entries known in this process, by diff_id: the last MEMO layers met (a library process may build many). */
const memo = new Map<string, Promise<LayerEntry[]>>();
const MEMO = 64;
const memoize = (diffId: string, entries: LayerEntry[]) => {
  memo.delete(diffId);
  memo.set(diffId, Promise.resolve(entries));
  if (memo.size > MEMO) memo.delete(memo.keys().next().value!);
};

const valid = (v: unknown): v is LayerEntry[] =>
  Array.isArray(v) &&
  v.every(
    (e) =>
      Array.isArray(e) &&
      e.length === 7 &&
      typeof e[0] === 'string' &&
      typeof e[1] === 'string' &&
      e.slice(2, 6).every((n) => Number.isInteger(n)) &&
      typeof e[6] === 'string',
  );

/** A sha256 digest as written: what a diff_id (and a cached layer's blob digest) must be. */
export const isDiffId = (d: unknown): boolean => typeof d === 'string' && /^sha256:[0-9a-f]{64}$/.test(d);

/** The entries of a layer when known without reading it: this process's memo, else the cache dir (unless `fresh`). */
export async function knownIndex(
  diffId: string,
  cacheDir: string | undefined,
  fresh = false,
): Promise<LayerEntry[] | undefined> {
  const known = memo.get(diffId);
  if (known) return known;
  if (!cacheDir || fresh || !isDiffId(diffId)) return undefined;
  const kept = await readFile(indexPath(cacheDir, diffId), 'utf8')
    .then((t) => JSON.parse(t) as unknown)
    .catch(() => undefined);
  if (!valid(kept)) return undefined;
  memoize(diffId, kept);
  return kept;
}

/** Keeps the entries of the layer with tar digest `diffId` (read while it was made or unpacked). */
export async function rememberIndex(
  diffId: string,
  entries: LayerEntry[],
  cacheDir: string | undefined,
): Promise<void> {
  if (!isDiffId(diffId)) throw new Error(`bad diff_id ${diffId.slice(0, 80)}`);
  memoize(diffId, entries);
  if (!cacheDir) return;
  const file = indexPath(cacheDir, diffId);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(entries));
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * The entries of a layer known by its diff_id (a digest of its tar, so an entry never goes stale): known ones
 * (`knownIndex`), else read from `open()` and kept (written beside and renamed: never a half-written entry) when
 * the tar read is the one the diff_id names; undefined when not (an image's config may state any diff_id).
 */
export async function layerIndex(
  diffId: string,
  open: () => Promise<Readable> | Readable,
  cacheDir: string | undefined,
  fresh = false,
): Promise<LayerEntry[] | undefined> {
  const known = await knownIndex(diffId, cacheDir, fresh);
  if (known) return known;
  const m = measuring();
  const entries = await readEntries(await open(), m.t);
  if (m.result().digest !== diffId) return undefined;
  await rememberIndex(diffId, entries, cacheDir);
  return entries;
}
