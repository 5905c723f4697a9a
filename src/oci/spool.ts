/**
 * A streamed layer spooled to a temporary file: compressed once, its tar and its compressed bytes hashed in the
 * same pass, then read back from the file, so a layer of any size never sits whole in memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobReader, Descriptor } from './artifact.js';
import { compress, type Compression } from './compression.js';
import type { Digest } from './digest.js';
import { OciError } from './errors.js';
import { removeTemp, trackTemp } from './temps.js';
import { coalescing, measuring } from './verify.js';

/** A file is removed once no artifact can read it any more (and at exit by `removeLiveTemps`, whichever is first). */
const unlinkWhenUnreachable = new FinalizationRegistry<string>((path) => {
  removeTemp(path).catch(() => {});
});

/** One spooled blob: a reader of the file, which lives as long as this object is reachable. */
export class SpooledBlob implements BlobReader {
  constructor(readonly path: string) {
    unlinkWhenUnreachable.register(this, path);
  }

  async open(d: Descriptor): Promise<Readable> {
    const s = createReadStream(this.path);
    await new Promise<void>((resolve, reject) => {
      s.once('open', () => resolve());
      s.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'ENOENT'
            ? new OciError(
                'BLOB_UNKNOWN',
                `the appended layer ${d.digest} was removed from ${this.path} (removeLiveTemps ran): ` +
                  'append the layer again',
              )
            : e,
        ),
      );
    });
    return s;
  }
}

export interface Spooled {
  blob: SpooledBlob;
  /** Of the compressed bytes. */
  digest: Digest;
  size: number;
  /** Of the tar. */
  diffId: Digest;
}

/** Compresses `input` into a new temporary file while hashing the tar and the compressed bytes. */
export async function spoolLayer(input: Readable, compression: Compression): Promise<Spooled> {
  const path = join(tmpdir(), `kura-layer-${randomUUID()}`);
  trackTemp(path);
  const tar = createHash('sha256');
  const tap = new Transform({
    transform(c: Buffer, _e, cb: TransformCallback) {
      tar.update(c);
      cb(null, c);
    },
  });
  input.on('error', (e) => tap.destroy(e));
  const count = measuring();
  try {
    await pipeline(
      compress(input.pipe(tap), compression),
      count.t,
      coalescing(),
      createWriteStream(path, { flags: 'wx', mode: 0o600 }),
    );
  } catch (e) {
    await removeTemp(path);
    throw e;
  }
  const { digest, size } = count.result();
  return { blob: new SpooledBlob(path), digest, size, diffId: `sha256:${tar.digest('hex')}` as Digest };
}
