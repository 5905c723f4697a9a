/** A stage's root filesystem as a directory: layers unpacked into it (whiteouts applied), snapshots and their diff. */
import { createWriteStream } from 'node:fs';
import { chmod, link, lchown, lstat, lutimes, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

/** A path inside the rootfs, cleaned: no leading slash, no `..` above the root ("" is the root). */
export function insidePath(p: string): string {
  const clean = posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return clean === '.' ? '' : clean;
}

/**
 * Makes the parent directories of `rel` inside `root` (0755, root-owned, as BuildKit makes them) and
 * refuses a parent that is not a directory (a symlink above a write would let it land outside the root).
 */
export async function ensureParents(root: string, rel: string, made?: string[]): Promise<void> {
  const parts = rel.split('/').slice(0, -1);
  let cur = '';
  for (const part of parts) {
    cur = cur ? `${cur}/${part}` : part;
    const st = await lstat(join(root, cur)).catch(() => undefined);
    if (!st) {
      await mkdir(join(root, cur), { mode: 0o755 });
      await chmod(join(root, cur), 0o755);
      made?.push(cur);
    } else if (!st.isDirectory()) throw new Error(`/${cur} is not a directory in the image: cannot write /${rel}`);
  }
}

/** Unpacks one layer tar into `root`: whiteouts delete, an opaque directory loses what lower layers put in it. */
export async function applyLayer(root: string, stream: Readable, onWarning?: (m: string) => void): Promise<void> {
  const ex = tar.extract();
  const written = new Set<string>();
  // directories this layer made or checked: their children need no walk of the parents (dropped when replaced)
  const dirs = new Set<string>();
  const forget = (p: string) => {
    for (const d of dirs) if (d === p || d.startsWith(`${p}/`)) dirs.delete(d);
  };
  const parents = async (rel: string) => {
    const dir = posix.dirname(rel);
    if (dir === '.' || dirs.has(dir)) return;
    await ensureParents(root, rel);
    dirs.add(dir);
  };
  const done = pipeline(stream, ex);
  for await (const entry of ex) {
    const h = entry.header;
    const rel = insidePath(h.name);
    const base = posix.basename(rel);
    const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    try {
      if (base === '.wh..wh..opq') {
        dirs.clear();
        const here = join(root, dir);
        for (const name of await readdir(here).catch(() => [] as string[])) {
          const p = dir ? `${dir}/${name}` : name;
          if (!written.has(p)) await rm(join(root, p), { recursive: true, force: true });
        }
      } else if (base.startsWith('.wh.')) {
        await parents(rel);
        forget(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
        await rm(join(root, dir, base.slice(4)), { recursive: true, force: true });
      } else if (rel !== '') {
        await parents(rel);
        if (h.type !== 'directory') forget(rel);
        await writeEntry(root, rel, h, entry as unknown as Readable, onWarning);
        if (h.type === 'directory') dirs.add(rel);
        written.add(rel);
      }
    } finally {
      entry.resume();
    }
  }
  await done;
}

async function writeEntry(
  root: string,
  rel: string,
  h: tar.Header,
  body: Readable,
  onWarning?: (m: string) => void,
): Promise<void> {
  const path = join(root, rel);
  const st = await lstat(path).catch(() => undefined);
  if (st && !(st.isDirectory() && h.type === 'directory')) await rm(path, { recursive: true, force: true });
  switch (h.type) {
    case 'directory':
      if (!st?.isDirectory()) await mkdir(path);
      break;
    case 'file':
    case 'contiguous-file':
      await pipeline(body, createWriteStream(path, { flags: 'wx' }));
      break;
    case 'symlink':
      await symlink(h.linkname ?? '', path);
      break;
    case 'link': {
      const target = insidePath(h.linkname ?? '');
      await link(join(root, target), path);
      return; // a hard link shares the target's owner, mode and times
    }
    default:
      onWarning?.(`skipped /${rel}: ${h.type} entries are not unpacked (no mknod here)`);
      return;
  }
  await lchown(path, h.uid ?? 0, h.gid ?? 0);
  if (h.type !== 'symlink') await chmod(path, (h.mode ?? 0o644) & 0o7777);
  const t = h.mtime ?? new Date(0);
  await lutimes(path, t, t);
}

/** What a snapshot keeps of each path: enough to tell whether a RUN changed it. */
interface Stat {
  key: string;
  dir: boolean;
}

/** Every path under `root` with its type, mode, owner, size, times and inode. */
export async function snapshot(root: string): Promise<Map<string, Stat>> {
  const out = new Map<string, Stat>();
  const walk = async (rel: string): Promise<void> => {
    const names = await readdir(rel ? join(root, rel) : root);
    for (const name of names) {
      const p = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, p), { bigint: true });
      const dir = st.isDirectory();
      out.set(p, {
        dir,
        key: [st.mode, st.uid, st.gid, dir ? 0 : st.size, st.mtimeNs, dir ? 0 : st.ctimeNs, st.ino].join(':'),
      });
      if (dir) await walk(p);
    }
  };
  await walk('');
  return out;
}

/** The change between two snapshots: paths added or changed, and paths deleted (only the topmost of a deleted tree). */
export function diffSnapshots(
  before: Map<string, Stat>,
  after: Map<string, Stat>,
): { changed: string[]; deleted: string[] } {
  const changed: string[] = [];
  for (const [p, s] of after) if (before.get(p)?.key !== s.key) changed.push(p);
  const deleted = [...before.keys()]
    .filter((p) => !after.has(p))
    .filter((p) => {
      const parent = posix.dirname(p);
      return parent === '.' || after.get(parent)?.dir === true;
    });
  return { changed, deleted };
}
