import type { Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { OciError } from './errors.js';
import { lazy } from './lazy.js';

/**
 * node:crypto on first use: loading it costs about 8 ms of CPU (it sets up OpenSSL), which a
 * `kura COMMAND --help` or a parse of a digest string should not pay.
 */
const crypto = lazy(() => createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));

/** A validated content digest `algorithm:hex`. Parse with parseDigest; never build one by hand. */
export type Digest = string & { readonly __brand: 'Digest' };
export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;
/** The distribution-spec digest grammar, for telling "malformed" from "unsupported algorithm". */
const GRAMMAR_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(s: string): s is Digest {
  const m = DIGEST_RE.exec(s);
  return m !== null && m[2]!.length === HEX_LENGTH[m[1] as DigestAlgorithm];
}

/** Parses a digest string, throwing DIGEST_INVALID for anything that is not sha256/sha512 hex. */
export function parseDigest(s: string): Digest {
  if (isDigest(s)) return s;
  const why = GRAMMAR_RE.test(s) ? 'unsupported digest algorithm or bad length' : 'malformed digest';
  throw new OciError('DIGEST_INVALID', `invalid digest "${s.slice(0, 200)}": ${why}`, { digest: s.slice(0, 200) });
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function isSupportedAlgorithm(a: string): a is DigestAlgorithm {
  return a === 'sha256' || a === 'sha512';
}

/** Digest of bytes in memory. */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${crypto().createHash(algorithm).update(data).digest('hex')}` as Digest;
}

export function newHasher(algorithm: DigestAlgorithm): Hash {
  return crypto().createHash(algorithm);
}

/** The digest a hasher computed, formatted. Consumes the hasher. */
export function finishDigest(algorithm: DigestAlgorithm, hasher: Hash): Digest {
  return `${algorithm}:${hasher.digest('hex')}` as Digest;
}
