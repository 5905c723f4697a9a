/**
 * What docker shows of a stored image record: its ID, short ID and unpacked size. Plain functions of
 * the record, in a module of their own so that `kura images --help` does not load the store.
 */
import type { Digest } from '../../oci/digest.js';
import type { ImageRecord } from './table.js';

/** The image ID docker shows: the config digest (the manifest digest for a stored index). */
export function imageId(r: Pick<ImageRecord, 'configDigest' | 'digest'>): Digest {
  return r.configDigest ?? r.digest;
}

/** The 12 hex characters docker shows for an image ID. */
export function shortId(d: string): string {
  return d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);
}

/** The image's unpacked size (sum of its layers'), or undefined when the record predates it. */
export function unpackedSize(r: { layerSizes?: Record<string, number> }): number | undefined {
  return r.layerSizes ? Object.values(r.layerSizes).reduce((s, n) => s + n, 0) : undefined;
}
