/** `copyImage`: one image between any two locations (names or opened), cancellable, as `kura copy` does it. */
import type { Readable } from 'node:stream';
import { canClose, type Artifact, type BlobReader, type Descriptor, type Sink, type Source } from '../oci/artifact.js';
import type { TransferEvent } from '../oci/artifact.js';
import { abortReason } from './registry/errors.js';
import { RegistryRepository } from './registry/repository.js';
import { openLocation, writeImage, type Location, type LocationOptions } from './locations.js';

/**
 * How an image is copied. Location options (credentials, plainHttp, insecure, signal, …) apply to
 * names opened here, on both sides; `from` and `to` override them for one side (other credentials).
 */
export interface CopyImageOptions extends Omit<LocationOptions, 'forWriting'> {
  onProgress?: (e: TransferEvent) => void;
  /** The artifact as it goes out (platforms chosen, layers recompressed); default as read. */
  prepare?: (artifact: Artifact) => Promise<Artifact>;
  /** Options for opening the source only, over the shared ones. */
  from?: Omit<LocationOptions, 'forWriting'>;
  /** Options for opening the destination only, over the shared ones. */
  to?: Omit<LocationOptions, 'forWriting'>;
}

/** A reader whose streams fail with the signal's reason when it aborts (and that opens none once it has). */
export function abortableBlobs<R extends BlobReader>(reader: R, signal: AbortSignal): R {
  const open = async (d: Descriptor): Promise<Readable> => {
    signal.throwIfAborted();
    const s = await reader.open(d);
    if (signal.aborted) s.destroy(abortReason(signal));
    const onAbort = () => s.destroy(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('close', () => signal.removeEventListener('abort', onAbort));
    return s;
  };
  return Object.assign(Object.create(reader) as R, { open });
}

/**
 * Reads `ref` from a medium, cancelled by `signal`: a registry binds it to every request; any other
 * medium's blob streams are cut when it aborts.
 */
export async function readWith(from: Source, ref: string, signal?: AbortSignal): Promise<Artifact> {
  signal?.throwIfAborted();
  if (from instanceof RegistryRepository) return from.get(ref, { signal });
  const a = await from.get(ref);
  return signal ? { ...a, blobs: abortableBlobs(a.blobs, signal) } : a;
}

/**
 * Copies one image (every platform of an index, children by digest, the root as the destination's
 * tag) from `from` to `to`: location names (`oci:DIR:TAG`, `docker://REF`, `oci-archive:FILE`, …)
 * or locations already opened. A destination opened here is closed here (an archive is written
 * when closed). With `signal`, an abort stops reads and writes; sinks never leave a half-written
 * blob or tag (they write to temporary names and rename).
 */
export async function copyImage(
  from: string | Location<Source>,
  to: string | Location<Sink>,
  o: CopyImageOptions = {},
): Promise<Descriptor> {
  const { onProgress, prepare, from: fromOptions, to: toOptions, ...shared } = o;
  const src =
    typeof from === 'string' ? await openLocation(from, { ...shared, ...fromOptions, forWriting: false }) : from;
  const dst = typeof to === 'string' ? await openLocation(to, { ...shared, ...toOptions, forWriting: true }) : to;
  const read =
    src.transport === 'docker' && src.medium instanceof RegistryRepository && src.image
      ? await src.medium.get(src.image, { signal: o.signal })
      : await readWith(src.medium, src.ref, o.signal);
  const artifact = prepare ? await prepare(read) : read;
  const written = await writeImage(dst, artifact, { onProgress, signal: o.signal });
  if (typeof to === 'string' && canClose(dst.medium)) await dst.medium.close();
  return written;
}
