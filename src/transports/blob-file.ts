import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobReader, Descriptor, WriteOptions } from '../oci/artifact.js';
import { coalescing, verifying } from '../oci/verify.js';

/** fsync(2) of a folder: makes the names created or renamed in it durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Copies one blob into `path` the safe way: streamed to `tmp` (which must not exist), checked
 * against the descriptor's digest and size as it passes, written in 1 MiB pieces, fsynced when
 * `durable`, then renamed onto `path` (and, when `durable`, the folder fsynced so the new name
 * survives a power cut too); nothing is left under either name if anything fails.
 * Reports start, progress (every MiB) and done.
 */
export async function writeBlobFile(d: Descriptor, from: BlobReader, tmp: string, path: string, opts: WriteOptions & { durable?: boolean } = {}): Promise<void> {
  const ev = { digest: d.digest, mediaType: d.mediaType, total: d.size };
  opts.onProgress?.({ ...ev, complete: 0, status: 'start' });
  let last = 0;
  const verify = verifying(d, (n) => {
    if (n - last >= 1 << 20) {
      last = n;
      opts.onProgress?.({ ...ev, complete: n, status: 'progress' });
    }
  });
  try {
    // flush: fsync before close, so that a power cut cannot leave a named blob with lost bytes.
    await pipeline(await from.open(d), verify, coalescing(), createWriteStream(tmp, { flags: 'wx', flush: opts.durable === true }));
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  if (opts.durable) await fsyncDir(dirname(path));
  opts.onProgress?.({ ...ev, complete: d.size, status: 'done' });
}
