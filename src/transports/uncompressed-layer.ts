/** A layer stored uncompressed, as `docker save` keeps it, checked against the config's diff_id. */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobReader, Descriptor, WriteOptions } from '../oci/artifact.js';
import { decompress } from '../oci/compression.js';
import { digestAlgorithm, finishDigest, newHasher, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { coalescing } from '../oci/verify.js';
import { atomicWrite } from './atomic-file.js';
import { Transfer } from './transfer.js';

/**
 * A pass-through that fails at the end unless what flowed hashes to `diffId`; counts bytes. With
 * `same` (the stored bytes are the content, and their digest is `diffId`), `verifying` has checked it.
 */
function checkingDiffId(diffId: Digest, layer: Digest, same: boolean): Transform & { size: number } {
  const algorithm = digestAlgorithm(diffId);
  const hash = same ? undefined : newHasher(algorithm);
  const t = new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      hash?.update(chunk);
      t.size += chunk.length;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (!hash) return cb();
      const got = finishDigest(algorithm, hash);
      if (got !== diffId)
        return cb(
          new OciError(
            'DIGEST_INVALID',
            `layer ${layer} uncompresses to ${got}, but the config's diff_id is ${diffId}: the source image is corrupt`,
          ),
        );
      cb();
    },
  }) as Transform & { size: number };
  t.size = 0;
  return t;
}

/**
 * Stores a layer uncompressed at `path`, as `docker save` does: the compressed stream is verified
 * against its descriptor, the uncompressed one against the config's diff_id; the file appears
 * atomically. Returns the uncompressed size. An existing file is kept (same content by name).
 */
export async function writeUncompressedLayer(
  from: BlobReader,
  layer: Descriptor,
  diffId: Digest,
  path: string,
  opts: WriteOptions = {},
): Promise<number> {
  const transfer = new Transfer(layer, opts.onProgress);
  if (existsSync(path)) {
    transfer.end('skipped');
    return (await stat(path)).size;
  }
  await mkdir(dirname(path), { recursive: true });
  transfer.start();
  const verify = transfer.verifying();
  let check: (Transform & { size: number }) | undefined;
  await atomicWrite(path, async (tmp) => {
    const src = await from.open(layer);
    src.on('error', (e) => verify.destroy(e));
    const { stream, compression } = await decompress(src.pipe(verify));
    check = checkingDiffId(diffId, layer.digest, compression === 'none' && diffId === layer.digest);
    await pipeline(stream, check, coalescing(), createWriteStream(tmp, { flags: 'wx' }));
  });
  transfer.end('done');
  return check!.size;
}
