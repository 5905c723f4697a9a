/** The local store's cache of per-layer file indexes, gzipped JSON by diff_id. */
import { createRequire } from 'node:module';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestAlgorithm, digestHex, isDigest } from '../../oci/digest.js';
import { writeFileAtomic } from '../atomic-file.js';
import { lazy } from '../../oci/lazy.js';

const require = createRequire(import.meta.url);
const zlib = lazy(() => require('node:zlib') as typeof import('node:zlib'));

/**
 * Per-layer file indexes of the analysis commands, kept beside the local store's blobs and keyed by
 * the layer's diff_id (sha256 of its uncompressed tar), so that a second look at any image sharing a
 * layer reads no layer bytes:
 *
 *     <store>/index/<alg>/<hex>.json.gz   written to a temp name, renamed into place
 *
 * The contents are opaque here (analysis/ owns the format and its version); an entry is written only
 * under the diff_id its reader computed from the bytes it indexed.
 */
export class IndexCacheDir {
  constructor(readonly root: string) {}

  private path(diffId: string): string | undefined {
    return isDigest(diffId)
      ? join(this.root, 'index', digestAlgorithm(diffId), `${digestHex(diffId)}.json.gz`)
      : undefined;
  }

  /** The stored document for a diff_id, or undefined (absent or unreadable). */
  async get(diffId: string): Promise<Buffer | undefined> {
    const p = this.path(diffId);
    if (!p) return undefined;
    try {
      return zlib().gunzipSync(await readFile(p));
    } catch {
      return undefined;
    }
  }

  /** Stores a document for a diff_id (replacing any); failures to write are the caller's to ignore. */
  async put(diffId: string, doc: Buffer): Promise<void> {
    const p = this.path(diffId);
    if (!p) return;
    await mkdir(join(p, '..'), { recursive: true });
    await writeFileAtomic(p, zlib().gzipSync(doc, { level: 6 }));
  }
}
