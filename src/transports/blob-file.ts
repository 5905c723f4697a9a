/** One blob copied into a file: verified as it streams, reported as it goes, renamed into place. */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { BlobReader, Descriptor, WriteOptions } from '../oci/artifact.js';
import { coalescing } from '../oci/verify.js';
import { atomicWrite } from './atomic-file.js';
import { Transfer } from './transfer.js';

/**
 * Copies one blob into `path` the safe way: streamed to a temp name beside it, checked against the
 * descriptor's digest and size as it passes, written in 1 MiB pieces, renamed onto `path` (fsynced,
 * with its folder, when `durable`); nothing is left under either name if anything fails.
 * Reports start, progress (every MiB) and done.
 */
export async function writeBlobFile(
  d: Descriptor,
  from: BlobReader,
  path: string,
  opts: WriteOptions & { durable?: boolean } = {},
): Promise<void> {
  const transfer = new Transfer(d, opts.onProgress);
  transfer.start();
  const copy = async (tmp: string) =>
    pipeline(await from.open(d), transfer.verifying(), coalescing(), createWriteStream(tmp, { flags: 'wx' }));
  await atomicWrite(path, copy, { durable: opts.durable === true });
  transfer.end('done');
}
