/** The local store's cache of per-layer file indexes, gzipped JSON by diff_id. */
import { createRequire } from 'node:module';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chainIds, parseImageConfig } from '../../oci/config.js';
import { digestAlgorithm, digestHex, isDigest, type Digest } from '../../oci/digest.js';
import { writeFileAtomic } from '../atomic-file.js';
import { lazy } from '../../oci/lazy.js';

const require = createRequire(import.meta.url);
const zlib = lazy(() => require('node:zlib') as typeof import('node:zlib'));

/**
 * Per-layer file indexes of the analysis commands, kept beside the local store's blobs and keyed by
 * the layer's diff_id (sha256 of its uncompressed tar), so that a second look at any image sharing a
 * layer reads no layer bytes:
 *
 *     <store>/index/<alg>/<hex>.json.gz         written to a temp name, renamed into place
 *     <store>/index/chain/<alg>/<hex>.json.gz   a summary of a whole stack of layers, by its top ChainID
 *
 * The contents are opaque here (analysis/ owns the format and its version); an entry is written only
 * under the diff_id its reader computed from the bytes it indexed.
 */
export class IndexCacheDir {
  constructor(readonly root: string) {}

  private path(diffId: string, chain = false): string | undefined {
    return isDigest(diffId)
      ? join(this.root, 'index', ...(chain ? ['chain'] : []), digestAlgorithm(diffId), `${digestHex(diffId)}.json.gz`)
      : undefined;
  }

  /** The stored document for a diff_id, or undefined (absent or unreadable). */
  async get(diffId: string): Promise<Buffer | undefined> {
    return this.read(this.path(diffId));
  }

  /** The stored summary of the stack of layers whose top ChainID is `chainId` (oci/config.ts chainIds). */
  async getChain(chainId: string): Promise<Buffer | undefined> {
    return this.read(this.path(chainId, true));
  }

  async putChain(chainId: string, doc: Buffer): Promise<void> {
    await this.write(this.path(chainId, true), doc);
  }

  /** Drops the entries of these diff_ids and ChainIDs (absent ones are no error). */
  async remove(diffIds: Iterable<string>, chainIds: Iterable<string> = []): Promise<void> {
    const paths = [...[...diffIds].map((d) => this.path(d)), ...[...chainIds].map((c) => this.path(c, true))];
    await Promise.all(paths.map((p) => p && rm(p, { force: true })));
  }

  /**
   * After images leave the store (rmi, prune): drops the entries of their layers and stacks that no kept image shares,
   * by the diff_ids of their configs (`readConfig` reads a config blob; one it cannot read keeps its entries).
   */
  async dropImages(
    removed: (Digest | null)[],
    kept: (Digest | null)[],
    readConfig: (d: Digest) => Promise<Buffer>,
  ): Promise<void> {
    const keys = async (configs: (Digest | null)[]) => {
      const out = { diffIds: new Set<string>(), chains: new Set<string>() };
      for (const c of new Set(configs)) {
        if (!c) continue;
        const diffIds = await readConfig(c).then(
          (b) => parseImageConfig(b).rootfs.diff_ids,
          () => [],
        );
        for (const d of diffIds) out.diffIds.add(d);
        for (const d of chainIds(diffIds)) out.chains.add(d);
      }
      return out;
    };
    const [gone, keep] = [await keys(removed), await keys(kept)];
    await this.remove(
      [...gone.diffIds].filter((d) => !keep.diffIds.has(d)),
      [...gone.chains].filter((d) => !keep.chains.has(d)),
    );
  }

  private async read(p: string | undefined): Promise<Buffer | undefined> {
    if (!p) return undefined;
    try {
      return zlib().gunzipSync(await readFile(p));
    } catch {
      return undefined;
    }
  }

  /** Stores a document for a diff_id (replacing any); failures to write are the caller's to ignore. */
  async put(diffId: string, doc: Buffer): Promise<void> {
    await this.write(this.path(diffId), doc);
  }

  private async write(p: string | undefined, doc: Buffer): Promise<void> {
    if (!p) return;
    await mkdir(join(p, '..'), { recursive: true });
    await writeFileAtomic(p, zlib().gzipSync(doc, { level: 6 }));
  }
}
