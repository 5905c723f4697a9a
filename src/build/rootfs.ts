/** A stage's root filesystem as a directory: paths inside it, parents made safely, snapshots and their diff. */
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';

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

/** `f` of every item, in order, with up to `n` calls in flight (one chunk after another). */
export async function mapChunked<T, R>(items: T[], f: (item: T) => Promise<R>, n = 64): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(f))));
  return out;
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
    const names = (await readdir(rel ? join(root, rel) : root)).map((n) => (rel ? `${rel}/${n}` : n));
    // a directory's entries are looked at together, then taken in order
    const stats = await mapChunked(names, (p) => lstat(join(root, p), { bigint: true }));
    for (const [i, p] of names.entries()) {
      const st = stats[i]!;
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
