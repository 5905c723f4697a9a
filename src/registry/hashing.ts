import type { Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { OciError } from '../oci/errors.js';

/**
 * A pass-through that feeds every byte to a hasher and counts it, failing once `limit` bytes are
 * exceeded. Hashing here, on the way to storage, is what lets a blob be verified without reading it back.
 */
export class HashingCounter extends Transform {
  bytes = 0;
  constructor(
    private readonly hasher: Hash | null,
    private readonly limit: number,
  ) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.limit > 0 && this.bytes > this.limit) {
      cb(new OciError('SIZE_TOO_LARGE', `blob exceeds the limit of ${this.limit} bytes`, { limit: this.limit }));
      return;
    }
    this.hasher?.update(chunk);
    cb(null, chunk);
  }
}
