import { Readable } from 'node:stream';
import type { BlobReader, Descriptor } from './artifact.js';
import type { Digest } from './digest.js';
import { OciError } from './errors.js';
import { verifying } from './verify.js';

/** Manifests and configs are read whole; nothing bigger than this is believed to be one. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;

/** Reads a small blob (manifest, config) whole, verified against its descriptor. */
export async function readSmallBlob(from: BlobReader, d: Descriptor, limit = MANIFEST_LIMIT): Promise<Buffer> {
  if (d.size > limit)
    throw new OciError(
      'SIZE_INVALID',
      `${d.digest} is ${d.size} bytes, more than the ${limit} a manifest or config may have`,
    );
  const chunks: Buffer[] = [];
  const v = verifying(d);
  const src = await from.open(d);
  src.on('error', (e) => v.destroy(e));
  for await (const c of src.pipe(v)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Opens a blob as a stream that fails at the end unless its bytes match the descriptor. */
export async function openVerified(from: BlobReader, d: Descriptor): Promise<Readable> {
  const v = verifying(d);
  const src = await from.open(d);
  src.on('error', (e) => v.destroy(e));
  return src.pipe(v);
}

/**
 * A blob reader for new values made from old ones: blobs made in memory (new manifests, configs,
 * appended layers) first, then known routes (digest → the source holding it), then each fallback
 * reader in turn. Chains of overlays collapse into one.
 */
export class OverlayBlobs implements BlobReader {
  readonly added: Map<Digest, Buffer>;
  readonly routes: Map<Digest, BlobReader>;
  readonly fallbacks: BlobReader[];

  constructor(added: Map<Digest, Buffer>, fallbacks: BlobReader[], routes = new Map<Digest, BlobReader>()) {
    this.added = new Map();
    this.routes = new Map();
    this.fallbacks = [];
    for (const f of fallbacks) {
      if (f instanceof OverlayBlobs) {
        for (const [k, v] of f.added) this.added.set(k, v);
        for (const [k, v] of f.routes) this.routes.set(k, v);
        for (const g of f.fallbacks) if (!this.fallbacks.includes(g)) this.fallbacks.push(g);
      } else if (!this.fallbacks.includes(f)) this.fallbacks.push(f);
    }
    for (const [k, v] of routes) this.routes.set(k, v);
    for (const [k, v] of added) this.added.set(k, v);
  }

  async open(d: Descriptor): Promise<Readable> {
    const b = this.added.get(d.digest);
    if (b) return Readable.from([b]);
    const r = this.routes.get(d.digest);
    if (r) return r.open(d);
    let first: unknown;
    for (const f of this.fallbacks) {
      try {
        return await f.open(d);
      } catch (e) {
        first ??= e;
      }
    }
    throw first ?? new OciError('BLOB_UNKNOWN', `no source holds blob ${d.digest}`);
  }
}
