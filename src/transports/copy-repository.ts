/** `copy --all-tags` as a library function: every tag of a source to the same tags at a sink, a few images at once. */
import type { Artifact, Descriptor, Sink, Source, TagLister, TransferEvent } from '../oci/artifact.js';
import { readWith } from './copy-image.js';

export interface CopyRepositoryOptions {
  /** Images copied at once (each also moves its layers in parallel); default 4. */
  jobs?: number;
  onProgress?: (e: TransferEvent) => void;
  /** Before a tag is read: a check that throws stops the copy (e.g. a signature policy). */
  beforeTag?: (tag: string) => Promise<void>;
  /** The artifact as it goes out (platforms chosen, layers recompressed); default as read. */
  prepare?: (artifact: Artifact, tag: string) => Promise<Artifact>;
  /** After a tag is written, with what was written (e.g. to copy its signatures, to report it). */
  afterTag?: (tag: string, artifact: Artifact, written: Descriptor) => Promise<void> | void;
  /** Cancels the copy: no tag is started once it aborts, and the ones under way stop. */
  signal?: AbortSignal;
}

/**
 * Copies every tag `from` lists to the same tag at `to`, `jobs` tags at once; returns what was
 * written, in the order tags finished. A repository without tags copies nothing. The first
 * failure rejects the whole copy (tags already written stay written). Closing `to` (archives are
 * written whole when closed) is the caller's.
 */
export async function copyRepository(
  from: Source & TagLister,
  to: Sink,
  o: CopyRepositoryOptions = {},
): Promise<{ tag: string; descriptor: Descriptor }[]> {
  o.signal?.throwIfAborted();
  const tags = await from.tags();
  const queue = [...tags];
  const done: { tag: string; descriptor: Descriptor }[] = [];
  const worker = async () => {
    for (let tag = queue.shift(); tag !== undefined; tag = queue.shift()) {
      await o.beforeTag?.(tag);
      const read = await readWith(from, tag, o.signal);
      const artifact = o.prepare ? await o.prepare(read, tag) : read;
      const descriptor = await to.write(tag, artifact, { onProgress: o.onProgress, signal: o.signal });
      await o.afterTag?.(tag, artifact, descriptor);
      done.push({ tag, descriptor });
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, o.jobs ?? 4), tags.length) }, worker));
  return done;
}
