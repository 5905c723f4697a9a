/** Unpacks a layer tar into a directory with a bounded number of file operations in flight (whiteouts applied). */
import { open, chmod, link, lchown, lstat, lutimes, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { ensureParents, insidePath } from './rootfs.js';
import { buffer } from 'node:stream/consumers';

/** Entries being written at once (each a chain of create, write, chown, chmod, utimes through libuv's pool). */
const IN_FLIGHT = 16;
/** A file up to this size is read from the tar into memory and written in the background; a larger one inline. */
const BUFFERED = 1 << 20;

/**
 * Unpacks one layer tar into `root`: whiteouts delete, an opaque directory loses what lower layers put in it.
 * Up to IN_FLIGHT entries are written at once, in this order where it matters: an entry after its parent directory
 * was made, a hard link after its target was written, an entry after an earlier one of the same path, and whiteouts,
 * opaque markers and anything replacing a directory this layer made only once every earlier entry landed (nothing is
 * then written below a path while it becomes a symlink). Directories get their mode and times once the layer's
 * files are in (as `tar -x` does: writing a child changes a directory's mtime).
 */
export async function applyLayer(
  root: string,
  stream: Readable,
  onWarning?: (m: string) => void,
  onHeader?: (h: tar.Header) => void,
): Promise<void> {
  const ex = tar.extract();
  const written = new Set<string>();
  // directories this layer made or checked (entries below them are written without walking the parents again);
  // every entry in flight has its parent here, so a path not under any of them has nothing in flight below it
  const dirs = new Set<string>();
  // the operation of each path written, for the entries that must wait for it (children, hard links, the same path)
  const ops = new Map<string, Promise<void>>();
  const late = new Map<string, tar.Header>(); // directories' mode and times, set at the end
  const inFlight = new Set<Promise<void>>();
  let failed: unknown;
  const drain = async () => {
    await Promise.allSettled([...inFlight]);
    if (failed !== undefined) throw failed;
  };
  const start = async (rel: string, after: (Promise<void> | undefined)[], work: () => Promise<void>) => {
    while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    if (failed !== undefined) throw failed;
    const op = Promise.all(after).then(work);
    const tracked = op.then(
      () => void inFlight.delete(tracked),
      (e: unknown) => {
        failed ??= e;
        inFlight.delete(tracked);
      },
    );
    inFlight.add(tracked);
    ops.set(rel, op);
    op.catch(() => undefined); // reported through `failed`
  };
  const forget = (p: string) => {
    for (const d of dirs) if (d === p || d.startsWith(`${p}/`)) dirs.delete(d);
    for (const d of late.keys()) if (d === p || d.startsWith(`${p}/`)) late.delete(d);
  };
  const below = (p: string) => {
    for (const d of dirs) if (d === p || d.startsWith(`${p}/`)) return true;
    return false;
  };
  const parents = async (rel: string) => {
    const dir = posix.dirname(rel);
    if (dir === '.' || dirs.has(dir)) return;
    await drain(); // the walk must see every earlier entry in place
    await ensureParents(root, rel);
    dirs.add(dir);
  };
  const done = pipeline(stream, ex);
  done.catch(() => undefined); // awaited below; an early error must not be an unhandled rejection meanwhile
  try {
    await entries();
  } catch (e) {
    await Promise.allSettled([...inFlight]); // nothing goes on writing once the caller hears of the failure
    throw e;
  }
  await done;
  await drain();
  for (const [rel, h] of late)
    await start(rel, [], async () => {
      await chmod(join(root, rel), (h.mode ?? 0o755) & 0o7777);
      const t = h.mtime ?? new Date(0);
      await lutimes(join(root, rel), t, t);
    });
  await drain();

  async function entries(): Promise<void> {
    for await (const entry of ex) {
      const h = entry.header;
      onHeader?.(h);
      const rel = insidePath(h.name);
      const base = posix.basename(rel);
      const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
      try {
        if (base === '.wh..wh..opq') {
          await drain();
          // the directory's path must be real directories: a symlink on it would empty a directory outside the tree
          await parents(rel);
          dirs.clear();
          for (const name of await readdir(join(root, dir)).catch(() => [] as string[])) {
            const p = dir ? `${dir}/${name}` : name;
            if (!written.has(p)) {
              for (const d of late.keys()) if (d === p || d.startsWith(`${p}/`)) late.delete(d);
              await rm(join(root, p), { recursive: true, force: true });
            }
          }
        } else if (base.startsWith('.wh.')) {
          await drain();
          await parents(rel);
          forget(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
          await rm(join(root, dir, base.slice(4)), { recursive: true, force: true });
        } else if (rel !== '') {
          if (h.type !== 'directory' && below(rel)) await drain();
          await parents(rel);
          if (h.type !== 'directory') forget(rel);
          const body = isFile(h) && (h.size ?? 0) <= BUFFERED ? await buffer(entry as unknown as Readable) : undefined;
          const after = [ops.get(dir), ops.get(rel)];
          if (h.type === 'link') after.push(ops.get(insidePath(h.linkname ?? '')));
          if (isFile(h) && !body) {
            // a large file streams from the tar now: the next entry comes after it
            await Promise.all(after);
            await writeEntry(root, rel, h, entry as unknown as Readable, onWarning);
            ops.delete(rel);
          } else await start(rel, after, () => writeEntry(root, rel, h, body, onWarning));
          if (h.type === 'directory') {
            dirs.add(rel);
            late.set(rel, h);
          }
          written.add(rel);
        }
      } finally {
        entry.resume();
      }
    }
  }
}

const isFile = (h: tar.Header) => h.type === 'file' || h.type === 'contiguous-file';

/** Writes one entry (replacing what is at its path); a directory's mode and times are left to the caller. */
async function writeEntry(
  root: string,
  rel: string,
  h: tar.Header,
  body: Buffer | Readable | undefined,
  onWarning?: (m: string) => void,
): Promise<void> {
  const path = join(root, rel);
  const st = await lstat(path).catch(() => undefined);
  if (st && !(st.isDirectory() && h.type === 'directory')) await rm(path, { recursive: true, force: true });
  switch (h.type) {
    case 'directory':
      if (!st?.isDirectory()) await mkdir(path);
      await lchown(path, h.uid ?? 0, h.gid ?? 0);
      return;
    case 'file':
    case 'contiguous-file':
      if (Buffer.isBuffer(body)) {
        const f = await open(path, 'wx');
        try {
          await f.writeFile(body);
        } finally {
          await f.close();
        }
      } else await pipeline(body ?? [], createWriteStream(path, { flags: 'wx' }));
      break;
    case 'symlink':
      await symlink(h.linkname ?? '', path);
      break;
    case 'link':
      await link(join(root, insidePath(h.linkname ?? '')), path);
      return; // a hard link shares the target's owner, mode and times
    default:
      onWarning?.(`skipped /${rel}: ${h.type} entries are not unpacked (no mknod here)`);
      return;
  }
  await lchown(path, h.uid ?? 0, h.gid ?? 0);
  const t = h.mtime ?? new Date(0);
  // chown clears set-id bits, so the mode comes after it; the times are independent of both
  await Promise.all([h.type !== 'symlink' ? chmod(path, (h.mode ?? 0o644) & 0o7777) : undefined, lutimes(path, t, t)]);
}
