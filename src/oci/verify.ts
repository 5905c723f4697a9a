import { Transform, type TransformCallback } from 'node:stream';
import type { Descriptor } from './artifact.js';
import { digestAlgorithm, finishDigest, newHasher, type Digest, type DigestAlgorithm } from './digest.js';
import { OciError } from './errors.js';

/**
 * A pass-through that hashes and counts what flows and fails at the end (or as soon as too many
 * bytes arrive) unless the bytes match the descriptor's digest and size. `onBytes` sees the running count.
 */
export function verifying(d: Descriptor, onBytes?: (complete: number) => void): Transform {
  const algorithm = digestAlgorithm(d.digest);
  const hash = newHasher(algorithm);
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      size += chunk.length;
      if (size > d.size)
        return cb(new OciError('SIZE_INVALID', `blob ${d.digest} is larger than its descriptor's ${d.size} bytes`));
      hash.update(chunk);
      onBytes?.(size);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const got = finishDigest(algorithm, hash);
      if (size !== d.size)
        return cb(new OciError('SIZE_INVALID', `blob ${d.digest}: got ${size} bytes, its descriptor says ${d.size}`));
      if (got !== d.digest) return cb(new OciError('DIGEST_INVALID', `blob ${d.digest}: the bytes hash to ${got}`));
      cb();
    },
  });
}

/** A pass-through that hashes and counts what flows; `result()` after the end gives digest and size. */
export function measuring(algorithm: DigestAlgorithm = 'sha256'): {
  t: Transform;
  result: () => { digest: Digest; size: number };
} {
  const hash = newHasher(algorithm);
  let size = 0;
  const t = new Transform({
    transform(c: Buffer, _e, cb: TransformCallback) {
      hash.update(c);
      size += c.length;
      cb(null, c);
    },
  });
  return { t, result: () => ({ digest: finishDigest(algorithm, hash), size }) };
}

/**
 * Gathers small chunks (a socket's 16–64 KiB) into writes of at least `min` bytes: on this kind of
 * machine a file write costs a thread-pool round trip, so fewer, larger writes are what is fast.
 */
export function coalescing(min = 1 << 20): Transform {
  let parts: Buffer[] = [];
  let length = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      parts.push(chunk);
      length += chunk.length;
      if (length < min) return cb();
      const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
      parts = [];
      length = 0;
      cb(null, out);
    },
    flush(cb: TransformCallback) {
      if (length > 0) this.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length));
      cb();
    },
  });
}
