import type { Digest } from '../oci/digest.js';

/** Bytes of recently served manifests by digest (immutable, so never stale), bounded in total bytes. */
export class ManifestCache {
  private readonly map = new Map<Digest, Buffer>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  get(d: Digest): Buffer | undefined {
    const b = this.map.get(d);
    if (b) {
      // Refresh recency: Map iteration order is insertion order.
      this.map.delete(d);
      this.map.set(d, b);
    }
    return b;
  }

  set(d: Digest, b: Buffer): void {
    if (b.length > this.maxBytes / 4 || this.map.has(d)) return;
    this.map.set(d, b);
    this.bytes += b.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }
}
