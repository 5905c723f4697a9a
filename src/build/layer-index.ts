/** The headers of a layer tar (path, type, mode, owner, mtime, link): read once per diff_id, kept in the cache. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

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

/** The entries of a layer tar, in order (the bodies are skipped). */
export async function readEntries(stream: Readable): Promise<LayerEntry[]> {
  const ex = tar.extract();
  const out: LayerEntry[] = [];
  const done = pipeline(stream, ex);
  done.catch(() => undefined); // awaited below
  for await (const entry of ex) {
    const h = entry.header;
    const mtime = h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0;
    out.push([h.name, h.type ?? 'file', h.mode ?? 0, h.uid ?? 0, h.gid ?? 0, mtime, h.linkname ?? '']);
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

const memo = new Map<string, Promise<LayerEntry[]>>();

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

/**
 * The entries of a layer known by its diff_id (a digest of its tar, so an entry never goes stale): from this
 * process's memo, else the cache dir (unless `fresh`), else read from `open()` and kept (written beside, renamed).
 */
export function layerIndex(
  diffId: string,
  open: () => Promise<Readable> | Readable,
  cacheDir: string | undefined,
  fresh = false,
): Promise<LayerEntry[]> {
  if (!/^sha256:[0-9a-f]{64}$/.test(diffId)) return Promise.reject(new Error(`bad diff_id ${diffId.slice(0, 80)}`));
  const known = memo.get(diffId);
  if (known) return known;
  const load = (async () => {
    const file = cacheDir ? indexPath(cacheDir, diffId) : undefined;
    if (file && !fresh) {
      const kept = await readFile(file, 'utf8')
        .then((t) => JSON.parse(t) as unknown)
        .catch(() => undefined);
      if (valid(kept)) return kept;
    }
    const entries = await readEntries(await open());
    if (file) {
      await mkdir(dirname(file), { recursive: true });
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify(entries));
        await rename(tmp, file);
      } finally {
        await rm(tmp, { force: true });
      }
    }
    return entries;
  })();
  memo.set(diffId, load);
  load.catch(() => memo.delete(diffId));
  return load;
}
