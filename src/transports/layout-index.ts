import type { Descriptor } from '../oci/artifact.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { stripName } from './tree.js';

/** The index.json annotation that names a tag in an OCI layout. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** Tags of a layout: the `org.opencontainers.image.ref.name` annotations of index.json, sorted. */
export function layoutTags(manifests: readonly Descriptor[]): string[] {
  return manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t).sort();
}

/** How to read a layout's manifest blobs, wherever they are kept (a directory, a tar). */
export interface LayoutBlobs {
  has(d: Digest): boolean;
  read(d: Digest): Promise<Buffer>;
  /** For messages: the directory or file. */
  where: string;
}

/**
 * What `ref` names in a layout, by OciLayout's rules: a tag; a digest of an index.json entry or of
 * any manifest blob (an index child, say); or '' for the only image.
 */
export async function resolveLayoutRef(manifests: readonly Descriptor[], ref: string, blobs: LayoutBlobs): Promise<{ descriptor: Descriptor; manifest: Buffer }> {
  let d: Descriptor | undefined;
  if (isDigest(ref)) {
    d = manifests.find((m) => m.digest === ref);
    if (!d && blobs.has(ref)) {
      const manifest = await blobs.read(ref);
      const mediaType = (JSON.parse(manifest.toString('utf8')) as { mediaType?: string }).mediaType ?? MediaTypes.OciManifest;
      return { descriptor: { mediaType, digest: ref, size: manifest.length }, manifest };
    }
  } else {
    d = manifests.find((m) => m.annotations?.[REF_NAME] === ref) ?? (manifests.length === 1 && ref === '' ? manifests[0] : undefined);
  }
  if (!d) throw new OciError('MANIFEST_UNKNOWN', `${blobs.where} has no image "${ref}" (tags: ${layoutTags(manifests).join(', ') || 'none'})`);
  if (!blobs.has(d.digest)) throw new OciError('MANIFEST_UNKNOWN', `${blobs.where} has no manifest ${d.digest}`);
  return { descriptor: stripName(d), manifest: await blobs.read(d.digest) };
}
