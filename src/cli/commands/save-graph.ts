/** `kura save --format oci-archive`: images with their graphs into one oci-archive; docker-archive's warning. */
import type { Artifact } from '../../oci/artifact.js';
import { isDigest } from '../../oci/digest.js';
import type { Location } from '../../transports/locations.js';
import { UsageError } from '../errors.js';
import { graphStoreOf } from '../graph-store.js';
import { attachedCount } from './copy-graph.js';

/** The ref name an image gets in a saved oci-archive: its tag (skopeo's oci-archive:FILE:TAG), else its digest. */
export function ociArchiveRef(from: Location, repoTag: string, artifact: Artifact): string {
  const tag = repoTag ? repoTag.slice(repoTag.lastIndexOf(':') + 1) : from.image?.tag;
  return tag && !tag.includes('/') ? tag : artifact.descriptor.digest;
}

/** Refuses two images that would get the same ref name in one oci-archive (the second would replace the first). */
export function checkDistinctRefs(saved: { image: string; ref: string }[]): void {
  const seen = new Map<string, string>();
  for (const s of saved) {
    const other = seen.get(s.ref);
    if (other !== undefined && !isDigest(s.ref))
      throw new UsageError(
        `${other} and ${s.image} would both be "${s.ref}" in the oci-archive (it names images by tag); save them ` +
          `into separate archives`,
      );
    seen.set(s.ref, s.image);
  }
}

/**
 * A docker-archive cannot hold referrers or extra manifests: one line for all the images saved, naming how many
 * signatures, attestations and referrers stayed behind and how to keep them.
 */
export async function warnLeftBehind(file: string, saved: { from: Location; artifact: Artifact }[]): Promise<void> {
  let left = 0;
  for (const s of saved) {
    const src = graphStoreOf(s.from, { archives: true });
    // Counting is advice: a registry that cannot be asked (a mirror, the network) does not fail the save.
    if (src) left += await attachedCount(src, s.artifact).catch(() => 0);
  }
  if (left)
    process.stderr.write(
      `kura: warning: the docker-archive ${file} cannot hold the ${left} signature(s), attestation(s) or ` +
        `referrer(s) attached to the saved images; they were not saved (use --format oci-archive to keep them, or ` +
        `--no-referrers to leave them without this warning)\n`,
    );
}
