/** Unpacked layer sizes of images in the local store (what `kura images` shows). */
import { createReadStream } from 'node:fs';
import type { Artifact, Descriptor } from '../../oci/artifact.js';
import { decompress, mediaTypeCompression } from '../../oci/compression.js';
import { parseImageManifest } from '../../oci/manifest.js';
import { isImageManifestMediaType } from '../../oci/mediatypes.js';

/**
 * Each layer's unpacked (uncompressed) size, by layer digest: what docker and podman show as sizes.
 * A plain-tar layer is its blob size; a compressed one is read through once (here, at write time,
 * so that listings never decompress). `known` sizes (other images' layers) are not read again.
 */
export async function unpackedSizes(
  a: Artifact,
  pathOf: (d: Descriptor) => string,
  known: Record<string, number> = {},
): Promise<Record<string, number>> {
  if (!isImageManifestMediaType(a.descriptor.mediaType)) return {};
  const { layers } = parseImageManifest(a.manifest, a.descriptor.mediaType, `image ${a.descriptor.digest}`);
  const out: Record<string, number> = {};
  for (const l of layers) {
    if (known[l.digest] !== undefined) out[l.digest] = known[l.digest]!;
    else if (mediaTypeCompression(l.mediaType) === 'none') out[l.digest] = l.size;
    else {
      try {
        const { stream } = await decompress(createReadStream(pathOf(l)));
        let n = 0;
        for await (const c of stream) n += (c as Buffer).length;
        out[l.digest] = n;
      } catch {
        // Not a layer we can unpack (a foreign or unknown blob): its stored size stands in.
        out[l.digest] = l.size;
      }
    }
  }
  return out;
}
