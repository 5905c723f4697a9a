// Rewrites an artifact with its layers compressed in another format (skopeo's --dest-compress-format).
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Artifact, BlobReader, Descriptor } from './artifact.js';
import { compress, decompress, mediaTypeCompression, type Compression } from './compression.js';
import { digestOf, type Digest } from './digest.js';
import { MediaTypes, isManifestMediaType, layerMediaType } from './mediatypes.js';
import { parseManifest } from './manifest.js';
import { openVerified, readSmallBlob } from './blob.js';
import { coalescing, measuring } from './verify.js';

export interface Recompressed {
  artifact: Artifact;
  /** Removes the temporary files that hold the new layers. */
  cleanup(): void;
}

const LAYER_TYPES = new Set<string>([
  MediaTypes.OciLayer,
  MediaTypes.OciLayerGzip,
  MediaTypes.OciLayerZstd,
  MediaTypes.DockerLayerGzip,
  MediaTypes.DockerLayer,
]);

/**
 * The artifact with every layer compressed as `format` (skopeo's --dest-compress-format): each
 * layer is read once, checked against its digest, decompressed, compressed again into a temporary
 * file while it is hashed; manifests are rewritten to name the new blobs. Layers already in the
 * format are kept byte for byte. Docker schema2 has no zstd media type, so a Docker image written
 * as zstd becomes an OCI image (as skopeo converts it). Diff IDs, and so the config, do not change.
 * With `onlyUncompressed`, compressed layers are kept as they are (push compressing a loaded image).
 */
export async function recompressLayers(
  a: Artifact,
  format: Exclude<Compression, 'none'>,
  level?: number,
  opts: { onlyUncompressed?: boolean } = {},
): Promise<Recompressed> {
  const dir = mkdtempSync(join(tmpdir(), 'kura-recompress-'));
  const added = new Map<Digest, { file?: string; bytes?: Buffer }>();
  const done = new Map<Digest, Descriptor>();

  async function layer(d: Descriptor, docker: boolean): Promise<Descriptor> {
    const have = mediaTypeCompression(d.mediaType);
    if (
      !LAYER_TYPES.has(d.mediaType) ||
      d.urls?.length ||
      have === format ||
      (opts.onlyUncompressed && have !== 'none')
    ) {
      if (docker || !d.mediaType.startsWith('application/vnd.docker')) return d;
      // Kept bytes in a manifest that turns OCI: the same blob under OCI's name for its compression.
      return { ...d, mediaType: layerMediaType(false, have ?? 'none') };
    }
    const seen = done.get(d.digest);
    if (seen) return seen;
    const file = join(dir, d.digest.replace(':', '-'));
    const { stream } = await decompress(await openVerified(a.blobs, d));
    const count = measuring();
    await pipeline(
      compress(stream, format, level),
      count.t,
      coalescing(),
      createWriteStream(file, { flags: 'wx', mode: 0o600 }),
    );
    const { digest, size } = count.result();
    added.set(digest, { file });
    const out: Descriptor = { ...d, mediaType: layerMediaType(docker, format), digest, size };
    done.set(d.digest, out);
    return out;
  }

  async function manifest(desc: Descriptor, bytes: Buffer): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    const parsed = parseManifest(bytes, desc.mediaType, { what: `${desc.mediaType} ${desc.digest}` });
    if (parsed.kind === 'schema1') return { descriptor: desc, bytes };
    const doc: { mediaType?: string } = parsed.manifest;
    let changed = false;
    if (parsed.kind === 'index') {
      const kids: Descriptor[] = [];
      for (const c of parsed.manifest.manifests) {
        if (!isManifestMediaType(c.mediaType)) {
          kids.push(c);
          continue;
        }
        const r = await manifest(c, await readSmallBlob(a.blobs, c));
        changed ||= r.descriptor.digest !== c.digest;
        kids.push({ ...c, mediaType: r.descriptor.mediaType, digest: r.descriptor.digest, size: r.descriptor.size });
      }
      parsed.manifest.manifests = kids;
      // A Docker list may now hold OCI manifests: it becomes an OCI index.
      const oci = kids.some((k) => k.mediaType === MediaTypes.OciManifest);
      if (changed && oci && desc.mediaType === MediaTypes.DockerManifestList) doc.mediaType = MediaTypes.OciIndex;
    } else {
      const m = parsed.manifest;
      const toOci = desc.mediaType === MediaTypes.DockerManifest && format === 'zstd';
      const layers: Descriptor[] = [];
      for (const l of m.layers) layers.push(await layer(l, desc.mediaType === MediaTypes.DockerManifest && !toOci));
      changed = layers.some((l, i) => l.digest !== m.layers[i]!.digest || l.mediaType !== m.layers[i]!.mediaType);
      m.layers = layers;
      if (toOci && changed) {
        doc.mediaType = MediaTypes.OciManifest;
        if (m.config.mediaType === MediaTypes.DockerConfig) m.config = { ...m.config, mediaType: MediaTypes.OciConfig };
      }
    }
    if (!changed) return { descriptor: desc, bytes };
    const out = Buffer.from(JSON.stringify(doc));
    const mediaType = doc.mediaType ?? desc.mediaType;
    const digest = digestOf(out);
    added.set(digest, { bytes: out });
    return { descriptor: { ...desc, mediaType, digest, size: out.length }, bytes: out };
  }

  try {
    const root = await manifest(a.descriptor, a.manifest);
    const blobs: BlobReader = {
      open: async (d) => {
        const x = added.get(d.digest);
        if (x?.bytes) return Readable.from([x.bytes]);
        if (x?.file) return createReadStream(x.file);
        return a.blobs.open(d);
      },
    };
    return {
      artifact: { descriptor: root.descriptor, manifest: root.bytes, blobs },
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
