/** The local store's blob folder: content-addressed files, verified, fsynced and renamed into place. */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobReader, Descriptor, WriteOptions } from '../../oci/artifact.js';
import { digestAlgorithm, digestHex, isDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { fsyncDir } from '../atomic-file.js';
import { writeBlobFile } from '../blob-file.js';
import { pidAlive } from './table.js';

/** Temp files are `<name>.<pid>.<uuid>.tmp`: the pid tells a crashed writer's leftovers from a live one's. */
const TMP_RE = /\.(\d+)\.[0-9a-f-]{36}\.tmp$/;

/**
 * Content-addressed blobs `blobs/<alg>/<hex>`, shared by every image of the store. A blob appears
 * under its name only after its bytes were verified against the digest and size and fsynced.
 */
export class BlobDir implements BlobReader {
  constructor(readonly root: string) {}

  path(d: Digest): string {
    if (!isDigest(d)) throw new OciError('DIGEST_INVALID', `invalid digest ${String(d).slice(0, 100)}`);
    return join(this.root, 'blobs', digestAlgorithm(d), digestHex(d));
  }

  /** Whether the blob is there with the expected size. */
  has(d: Digest, size?: number): boolean {
    const p = this.path(d);
    if (size === undefined) return existsSync(p);
    try {
      return statSync(p).size === size;
    } catch {
      return false;
    }
  }

  async open(d: Descriptor): Promise<Readable> {
    if (!this.has(d.digest))
      throw new OciError('BLOB_UNKNOWN', `the image store ${this.root} has no blob ${d.digest}; pull the image again`);
    return createReadStream(this.path(d.digest));
  }

  /** Copies one blob from `from`, verified, fsynced, renamed into place; skips one already there. */
  async put(d: Descriptor, from: BlobReader, opts: WriteOptions = {}): Promise<void> {
    const ev = { digest: d.digest, mediaType: d.mediaType, total: d.size };
    if (this.has(d.digest, d.size)) {
      opts.onProgress?.({ ...ev, complete: d.size, status: 'skipped' });
      return;
    }
    const path = this.path(d.digest);
    const created = await mkdir(join(this.root, 'blobs', digestAlgorithm(d.digest)), { recursive: true });
    // New folders' names live in their parents: make them durable before a blob is renamed into one.
    if (created !== undefined) {
      for (
        let dir = join(this.root, 'blobs', digestAlgorithm(d.digest));
        dir.length >= created.length;
        dir = dirname(dir)
      )
        await fsyncDir(dirname(dir));
    }
    await writeBlobFile(d, from, path, { ...opts, durable: true });
  }

  /** Deletes blobs (missing ones are fine). */
  async remove(digests: Iterable<Digest>): Promise<void> {
    for (const d of digests) await rm(this.path(d), { force: true });
  }

  /** Every blob file with its size and modification time (temp files excluded). */
  async list(): Promise<{ digest: Digest; size: number; mtimeMs: number }[]> {
    const out: { digest: Digest; size: number; mtimeMs: number }[] = [];
    for (const alg of ['sha256', 'sha512']) {
      const dir = join(this.root, 'blobs', alg);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const digest = `${alg}:${name}`;
        if (!isDigest(digest)) continue;
        const s = await stat(join(dir, name)).catch(() => undefined);
        if (s) out.push({ digest, size: s.size, mtimeMs: s.mtimeMs });
      }
    }
    return out;
  }

  /** Removes temp files whose writer process is gone (a crash mid-write); returns how many. */
  async sweep(): Promise<number> {
    let n = 0;
    for (const dir of [this.root, join(this.root, 'blobs', 'sha256'), join(this.root, 'blobs', 'sha512')]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const m = TMP_RE.exec(name);
        if (m && !pidAlive(Number(m[1]))) {
          await rm(join(dir, name), { force: true });
          n++;
        }
      }
    }
    return n;
  }
}
