/** A layer tar made from paths of a rootfs directory, byte-for-byte the same for the same tree (sorted, no names). */
import { createReadStream } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

export interface LayerTarOptions {
  /** Clamp every mtime to this time (seconds since 1970): SOURCE_DATE_EPOCH, --reproducible. */
  epoch?: number;
}

/** Sorted as Go's archive/tar writers of BuildKit and buildah walk a tree: by path, a directory before its content. */
function sortPaths(paths: Iterable<string>): string[] {
  return [...new Set(paths)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Streams a tar of `paths` (relative to `root`) and of whiteouts for `deleted`: headers carry numeric owners
 * only, no user or group names, and access/change times are left out; a second path with an inode already
 * written becomes a hard link to the first.
 */
export function layerTar(root: string, paths: Iterable<string>, deleted: Iterable<string>, o: LayerTarOptions = {}) {
  const pack = tar.pack();
  const out = new PassThrough();
  const clamp = (d: Date) =>
    o.epoch !== undefined && d.getTime() > o.epoch * 1000
      ? new Date(o.epoch * 1000)
      : new Date(Math.floor(d.getTime() / 1000) * 1000);
  const work = (async () => {
    const whiteouts = [...deleted].map((p) => posix.join(posix.dirname(p), `.wh.${posix.basename(p)}`));
    const inodes = new Map<bigint, string>();
    const epochDate = new Date((o.epoch ?? 0) * 1000);
    for (const p of sortPaths([...paths, ...whiteouts])) {
      if (whiteouts.includes(p)) {
        await entry(pack, { name: p, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: epochDate });
        continue;
      }
      const full = join(root, p);
      const st = await lstat(full, { bigint: true });
      const base = { uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode) & 0o7777 };
      const mtime = clamp(new Date(Number(st.mtimeMs)));
      if (st.isDirectory()) await entry(pack, { ...base, name: `${p}/`, type: 'directory', mtime });
      else if (st.isSymbolicLink())
        await entry(pack, { ...base, name: p, type: 'symlink', linkname: await readlink(full), mtime });
      else if (st.isFile()) {
        const first = st.nlink > 1n ? inodes.get(st.ino) : undefined;
        if (first !== undefined) {
          await entry(pack, { ...base, name: p, type: 'link', linkname: first, mtime });
          continue;
        }
        if (st.nlink > 1n) inodes.set(st.ino, p);
        await entry(pack, { ...base, name: p, type: 'file', size: Number(st.size), mtime }, createReadStream(full));
      }
    }
    pack.finalize();
  })();
  work.catch((e: unknown) => out.destroy(e as Error));
  pack.pipe(out);
  return out as Readable;
}

function entry(pack: tar.Pack, h: Partial<tar.Header> & { name: string }, body?: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    const header = { ...h, uname: '', gname: '' };
    if (!body) {
      if (h.type === 'file') pack.entry(header, Buffer.alloc(0), cb);
      else pack.entry(header, cb);
      return;
    }
    pipeline(body, pack.entry(header, cb)).catch(reject);
  });
}
