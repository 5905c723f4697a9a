/**
 * A streamed layer spooled to a temporary file: compressed once, its tar and its compressed bytes hashed in the
 * same pass, then read back from the file, so a layer of any size never sits whole in memory. Once written,
 * the file is held open and unlinked (its data lives until it is closed): no temp file to clean up.
 */
import { createHash, randomUUID } from 'node:crypto';
import { close, createWriteStream, openSync, read } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobReader } from './artifact.js';
import { compress, type Compression } from './compression.js';
import type { Digest } from './digest.js';
import { removeTemp, trackTemp } from './temps.js';
import { coalescing, measuring } from './verify.js';

/** The file's descriptor is closed once no artifact (and no stream) can read it any more. */
const closeWhenUnreachable = new FinalizationRegistry<number>((fd) => close(fd, () => {}));

const PIECE = 1 << 20;

/**
 * One spooled blob: an open descriptor of a file already unlinked, so nothing is left on disk once it is
 * written; the space is freed when the descriptor closes, when this object is collected. Only this object
 * closes it: the streams it opens read at positions and never own the descriptor.
 */
export class SpooledBlob implements BlobReader {
  constructor(
    readonly fd: number,
    readonly size: number,
  ) {
    closeWhenUnreachable.register(this, fd);
  }

  async open(): Promise<Readable> {
    let at = 0;
    // The stream's read closure holds `blob`, so the descriptor stays open while a stream is being read.
    const blob = this;
    return new Readable({
      highWaterMark: PIECE,
      read() {
        if (at >= blob.size) return void this.push(null);
        const buf = Buffer.allocUnsafe(Math.min(PIECE, blob.size - at));
        read(blob.fd, buf, 0, buf.length, at, (e, n) => {
          if (e) return void this.destroy(e);
          if (n === 0) return void this.destroy(new Error(`the spooled layer ends at ${at} of ${blob.size} bytes`));
          at += n;
          this.push(n < buf.length ? buf.subarray(0, n) : buf);
        });
      },
    });
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

/**
 * Compresses `input` into a temporary file while hashing the tar and the compressed bytes, then keeps the file
 * open and unlinks it. While it is written it is a tracked temp (`removeLiveTemps` removes it at exit).
 */
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
  let fd: number;
  try {
    await pipeline(
      compress(input.pipe(tap), compression),
      count.t,
      coalescing(),
      createWriteStream(path, { flags: 'wx', mode: 0o600 }),
    );
    fd = openSync(path, 'r');
  } finally {
    await removeTemp(path);
  }
  const { digest, size } = count.result();
  return { blob: new SpooledBlob(fd, size), digest, size, diffId: `sha256:${tar.digest('hex')}` as Digest };
}
