/** `kura copy` as one library call: an image from one location to another, any two media (skopeo's names). */
import { canClose, type Descriptor, type Sink, type Source, type WriteOptions } from '../oci/artifact.js';
import { openLocation, readImage, writeImage, type Location, type LocationOptions } from './locations.js';

export interface CopyImageOptions extends WriteOptions {
  /** How a source given by name is opened (registry credentials, plainHttp, insecure, caFile…). */
  from?: Omit<LocationOptions, 'forWriting'>;
  /** How a destination given by name is opened. */
  to?: Omit<LocationOptions, 'forWriting'>;
}

/**
 * Copies the image (or index, with every platform) `from` names to `to`: location strings such as
 * `oci:DIR:TAG`, `docker://HOST/REPO:TAG`, `oci-archive:FILE:TAG`, `docker-archive:FILE`, or locations already
 * opened. Blobs are verified as they stream; an archive opened here is written whole before this resolves.
 * Resolves with the descriptor written at the destination.
 */
export async function copyImage(
  from: string | Location<Source>,
  to: string | Location<Sink>,
  opts: CopyImageOptions = {},
): Promise<Descriptor> {
  const src = typeof from === 'string' ? await openLocation(from, { ...opts.from, forWriting: false }) : from;
  const dst = typeof to === 'string' ? await openLocation(to, { ...opts.to, forWriting: true }) : to;
  const written = await writeImage(dst, await readImage(src), opts.onProgress ? { onProgress: opts.onProgress } : {});
  if (typeof to === 'string' && canClose(dst.medium)) await dst.medium.close();
  return written;
}
