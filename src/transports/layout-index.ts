import type { Descriptor } from '../oci/artifact.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { stripName } from './tree.js';

/** The index.json annotation that names a tag in an OCI layout. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** A layout's index.json, `manifests` always a list. */
export interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/**
 * Parses index.json as found in the wild: a null or missing `manifests` (moby#47210) reads as no
 * images. Anything that is not a JSON object with a list (or null) there is MANIFEST_INVALID naming `where`.
 */
export function parseIndexJson(bytes: Buffer | string, where: string): IndexJson {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new OciError('MANIFEST_INVALID', `${where} is not a readable OCI index: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OciError('MANIFEST_INVALID', `${where} is not a readable OCI index: not a JSON object`);
  const manifests = (doc as { manifests?: unknown }).manifests;
  if (manifests != null && !Array.isArray(manifests)) throw new OciError('MANIFEST_INVALID', `${where} is not a readable OCI index: "manifests" is not a list`);
  return { ...(doc as IndexJson), manifests: (manifests ?? []) as Descriptor[] };
}

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
