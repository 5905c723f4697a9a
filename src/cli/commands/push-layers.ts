import type { Artifact } from '../../oci/artifact.js';
import { mediaTypeCompression, type Compression } from '../../oci/compression.js';
import { parseArtifactManifest } from '../../oci/manifest.js';
import { isImageManifestMediaType } from '../../oci/mediatypes.js';
import type { LocalStore } from '../../transports/local-store/index.js';

interface Layers {
  config?: { digest: string };
  layers?: { mediaType: string }[];
}

const layersOf = (a: Artifact): Layers => {
  const m = parseArtifactManifest(a);
  return m.kind === 'image' ? m.manifest : {};
};
const uncompressed = (m: Layers) => (m.layers ?? []).some((l) => mediaTypeCompression(l.mediaType) === 'none');

/**
 * What `push` sends for an image of the store. A loaded image (docker-archive layers are plain
 * tars) would go uncompressed, under a new digest: the same image as pulled (same config, compressed
 * layers) is sent instead while the store still has it, which keeps the original digest; otherwise
 * its plain layers are compressed (`compress`, gzip by default, as docker push does).
 */
export async function pushable(
  store: LocalStore,
  a: Artifact,
  compress: Compression,
): Promise<{ artifact: Artifact; cleanup(): void; how?: string }> {
  const keep = { artifact: a, cleanup: () => {} };
  if (compress === 'none' || !isImageManifestMediaType(a.descriptor.mediaType)) return keep;
  const m = layersOf(a);
  if (!uncompressed(m) || !m.config) return keep;
  for (const r of await store.list({ all: true })) {
    if (r.configDigest !== m.config.digest || r.digest === a.descriptor.digest) continue;
    try {
      const original = await store.get(r.digest);
      const om = layersOf(original);
      if (om.config?.digest === m.config.digest && !uncompressed(om))
        return { artifact: original, cleanup: () => {}, how: `the layers as pulled (${r.digest})` };
    } catch {
      // Blobs of that image gone: compress instead.
    }
  }
  const { recompressLayers } = await import('../../oci/recompress.js');
  const r = await recompressLayers(a, compress, undefined, { onlyUncompressed: true });
  return { ...r, how: `${compress}-compressed layers` };
}
