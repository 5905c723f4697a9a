/** Files that appear whole or not at all: a temp name beside the target, an optional fsync, a rename. */
import { randomUUID } from 'node:crypto';
import { chmod, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * Survive a power cut too: the temp file is fsynced before the rename, and the folder after it,
   * so that the new name is on disk. Without it, a crash may lose the write but never halve it.
   */
  durable?: boolean;
  /** The temp name to fill (it must not exist); default: a random name beside the target. */
  tmp?: string;
}

/** A fresh temp name beside `path` (same folder: the rename stays on one filesystem). */
export function tempNameFor(path: string): string {
  return `${path}.${process.pid}.${randomUUID()}.tmp`;
}

/** fsync(2) of a folder: makes the names created or renamed in it durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync().catch((e: NodeJS.ErrnoException) => {
      // Some filesystems cannot sync a folder at all; their renames are as durable as they get.
      if (e.code !== 'EINVAL' && e.code !== 'ENOTSUP') throw e;
    });
  } finally {
    await fh.close();
  }
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `path` all or nothing: `fill` writes the temp name, which is then renamed onto `path`;
 * if anything fails, the temp file is removed and `path` is left as it was.
 */
export async function atomicWrite(
  path: string,
  fill: (tmp: string) => Promise<void>,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = opts.tmp ?? tempNameFor(path);
  try {
    await fill(tmp);
    if (opts.durable) await fsyncFile(tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  if (opts.durable) await fsyncDir(dirname(path));
}

/** `atomicWrite` of bytes; `mode` sets the file's permissions whatever the umask (0o600 for secrets). */
export function writeFileAtomic(
  path: string,
  data: string | Buffer,
  opts: AtomicWriteOptions & { mode?: number } = {},
): Promise<void> {
  return atomicWrite(
    path,
    async (tmp) => {
      await writeFile(tmp, data, { flag: 'wx', ...(opts.mode !== undefined ? { mode: opts.mode } : {}) });
      if (opts.mode !== undefined) await chmod(tmp, opts.mode);
    },
    opts,
  );
}
