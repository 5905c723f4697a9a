/** index.json of an OCI layout: parsed as found in the wild, tags listed, a tag or digest resolved. */
import type { BlobReader, Descriptor } from '../../oci/artifact.js';
import { isDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { parseManifest } from '../../oci/manifest.js';
import { MANIFEST_LIMIT, readSmallBlob } from '../../oci/blob.js';
import { stripName } from '../../oci/tree.js';
import { parseJson } from '../json.js';

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
  const invalid = (why: string) => new OciError('MANIFEST_INVALID', `${where} is not a readable OCI index: ${why}`);
  const doc = parseJson(bytes, invalid);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a JSON object');
  const manifests = (doc as { manifests?: unknown }).manifests;
  if (manifests != null && !Array.isArray(manifests)) throw invalid('"manifests" is not a list');
  return { ...(doc as IndexJson), manifests: (manifests ?? []) as Descriptor[] };
}

/** Tags of a layout: the `org.opencontainers.image.ref.name` annotations of index.json, sorted. */
export function layoutTags(manifests: readonly Descriptor[]): string[] {
  return manifests
    .map((m) => m.annotations?.[REF_NAME])
    .filter((t): t is string => !!t)
    .sort();
}

/** How to read a layout's blobs, wherever they are kept (a directory, a tar). */
export interface LayoutBlobs {
  /** The blob's size in bytes; undefined when the layout does not hold it. */
  size(d: Digest): Promise<number | undefined>;
  reader: BlobReader;
  /** For messages: the directory or file. */
  where: string;
}

/** The media type of a schema 2 manifest or index; undefined for anything else (a layer, a config). */
export function manifestMediaType(bytes: Buffer): string | undefined {
  try {
    const p = parseManifest(bytes, undefined, { what: 'blob' });
    return p.kind !== 'schema1' && p.manifest.schemaVersion === 2 ? p.mediaType : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A blob asked for as a manifest by its digest alone: refused unread when bigger than
 * MANIFEST_LIMIT, otherwise read once (verified against the digest), and MANIFEST_UNKNOWN naming
 * the digest when it is not a manifest or index (a layer or a config digest, say).
 */
export async function readManifestByDigest(
  blobs: BlobReader,
  digest: Digest,
  size: number,
  where: string,
): Promise<{ descriptor: Descriptor; manifest: Buffer }> {
  const notManifest = (why: string) =>
    new OciError(
      'MANIFEST_UNKNOWN',
      `${where} has a blob ${digest}, but it is not a manifest or index (${why}): a layer or config digest?`,
    );
  if (size > MANIFEST_LIMIT) throw notManifest(`${size} bytes, more than the ${MANIFEST_LIMIT} a manifest may have`);
  const manifest = await readSmallBlob(blobs, { mediaType: 'application/octet-stream', digest, size });
  const mediaType = manifestMediaType(manifest);
  if (!mediaType) throw notManifest('not a schema 2 manifest in JSON');
  return { descriptor: { mediaType, digest, size }, manifest };
}

/**
 * What `ref` names in a layout, by OciLayout's rules: a tag; a digest of an index.json entry or of
 * any manifest blob (an index child, say); or '' for the only image. The manifest is read verified.
 */
export async function resolveLayoutRef(
  manifests: readonly Descriptor[],
  ref: string,
  blobs: LayoutBlobs,
): Promise<{ descriptor: Descriptor; manifest: Buffer }> {
  let d: Descriptor | undefined;
  if (isDigest(ref)) {
    d = manifests.find((m) => m.digest === ref);
    if (!d) {
      const size = await blobs.size(ref);
      if (size !== undefined) return readManifestByDigest(blobs.reader, ref, size, blobs.where);
    }
  } else {
    d =
      manifests.find((m) => m.annotations?.[REF_NAME] === ref) ??
      (manifests.length === 1 && ref === '' ? manifests[0] : undefined);
  }
  if (!d)
    throw new OciError(
      'MANIFEST_UNKNOWN',
      `${blobs.where} has no image "${ref}" (tags: ${layoutTags(manifests).join(', ') || 'none'})`,
    );
  if ((await blobs.size(d.digest)) === undefined)
    throw new OciError('MANIFEST_UNKNOWN', `${blobs.where} has no manifest ${d.digest}`);
  const descriptor = stripName(d);
  return { descriptor, manifest: await readSmallBlob(blobs.reader, descriptor) };
}
