// The one manifest parser: bytes in, a checked tagged union out (image | index | schema1).
import type { Artifact, Descriptor, Platform } from './artifact.js';
import { isDigest, type Digest } from './digest.js';
import { OciError } from './errors.js';
import { MediaTypes, isImageManifestMediaType, isIndexMediaType } from './mediatypes.js';

/**
 * An image manifest (OCI or Docker schema 2), or an artifact manifest with a config. Closed: unknown fields of a
 * manifest read stay in the object (and in what changes starting from it write), not in this type.
 */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  /** Always an array once parsed (a missing `layers` field reads as no layers). */
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image index (OCI) or manifest list (Docker), parsed. Closed, as ImageManifest (unknown fields are kept). */
export interface IndexManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/**
 * A parsed manifest. `mediaType` is what it is taken as: the given one (Content-Type or descriptor),
 * else its own `mediaType` field, else a guess from its shape. Docker schema 2 manifests and lists are
 * `image` and `index` (tell them apart by `mediaType`); `schema1` is Docker's legacy signed manifest,
 * which only the registry stores (for old clients) and nothing else reads.
 */
export type ParsedManifest =
  | { kind: 'image'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; manifest: IndexManifest }
  | { kind: 'schema1'; mediaType: string; blobs: Digest[] };

export interface ParseOptions {
  /** Names the manifest in errors (`<what> config: …`); default `manifest`. */
  what?: string;
  /**
   * Whether a descriptor may lack `mediaType`. The OCI image-spec makes it REQUIRED, and every reader
   * of images needs it (to tell manifests from blobs), so only the registry passes `true`: Kura's
   * registry has always stored such manifests, as Distribution 2.8 does, and reads no descriptor media
   * type but the config's (for the referrers `artifactType`, null when absent). In a manifest parsed
   * this way a descriptor's `mediaType` may be undefined despite its type: only `manifestInfo` reads it.
   */
  lenientMediaType?: boolean;
}

/** The one error format: `<where>: <why>`, code MANIFEST_INVALID. */
export function manifestInvalid(where: string, why: string): OciError {
  return new OciError('MANIFEST_INVALID', `${where}: ${why}`, { reason: `${where}: ${why}` });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStringMap(v: unknown, where: string): void {
  if (v === undefined || v === null) return;
  if (!isObject(v)) throw manifestInvalid(where, 'must be an object of strings');
  for (const [k, s] of Object.entries(v))
    if (typeof s !== 'string') throw manifestInvalid(where, `"${k}" must be a string`);
}

/** Checks one descriptor's shape (mediaType, digest, size, annotations, platform, urls, artifactType). */
export function checkDescriptor(v: unknown, where: string, lenientMediaType = false): Descriptor {
  if (!isObject(v)) throw manifestInvalid(where, 'is not a descriptor object');
  if (v.mediaType !== undefined || !lenientMediaType) {
    if (typeof v.mediaType !== 'string' || !v.mediaType) throw manifestInvalid(where, 'mediaType is missing');
  }
  if (typeof v.digest !== 'string' || !isDigest(v.digest)) {
    throw manifestInvalid(where, `digest "${String(v.digest).slice(0, 80)}" is not a valid digest`);
  }
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw manifestInvalid(where, 'size must be a non-negative integer');
  }
  checkStringMap(v.annotations, `${where}.annotations`);
  if (v.urls !== undefined && (!Array.isArray(v.urls) || v.urls.some((u) => typeof u !== 'string'))) {
    throw manifestInvalid(where, 'urls must be an array of strings');
  }
  if (v.artifactType !== undefined && typeof v.artifactType !== 'string')
    throw manifestInvalid(where, 'artifactType must be a string');
  if (v.platform !== undefined) {
    const p = v.platform as Partial<Platform> | null;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw manifestInvalid(where, 'platform needs os and architecture strings');
    }
  }
  return v as unknown as Descriptor;
}

/** Parses bytes as a JSON object, or throws MANIFEST_INVALID naming `what`. */
export function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw manifestInvalid(what, `not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw manifestInvalid(what, 'not a JSON object');
  return doc;
}

/** Guesses the media type of a manifest that names none (no Content-Type, no mediaType field). */
function guessMediaType(doc: Record<string, unknown>): string {
  if (Array.isArray(doc.manifests)) return MediaTypes.OciIndex;
  if (doc.schemaVersion === 1) return MediaTypes.DockerSchema1Signed;
  return MediaTypes.OciManifest;
}

/** What a manifest of media type `mediaType` is: an index by media type, else by a `manifests` array. */
export function manifestKind(mediaType: string, doc: Record<string, unknown>): ParsedManifest['kind'] {
  if (mediaType === MediaTypes.DockerSchema1Signed || mediaType === MediaTypes.DockerSchema1) return 'schema1';
  if (isIndexMediaType(mediaType)) return 'index';
  if (isImageManifestMediaType(mediaType)) return 'image';
  return Array.isArray(doc.manifests) ? 'index' : 'image';
}

/**
 * Parses and checks manifest bytes taken as `mediaType` (a Content-Type or a descriptor's media type;
 * parameters are dropped; may be empty). Checks what readers and the registry rely on; unknown fields,
 * artifact types and config media types are accepted as they are. Throws MANIFEST_INVALID.
 */
export function parseManifest(bytes: Uint8Array, mediaType?: string, opts: ParseOptions = {}): ParsedManifest {
  const what = opts.what ?? 'manifest';
  const m = parseJsonObject(bytes, what);
  const given = mediaType?.split(';')[0]?.trim().toLowerCase() || undefined;
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string')
    throw manifestInvalid(what, 'mediaType must be a string');
  const own = m.mediaType;
  if (own !== undefined && given !== undefined && own !== given) {
    throw manifestInvalid(
      what,
      `its mediaType "${own}" differs from the given "${given}" (Content-Type or descriptor)`,
    );
  }
  const type = given ?? own ?? guessMediaType(m);
  checkStringMap(m.annotations, `${what} annotations`);
  if (m.subject !== undefined && m.subject !== null)
    checkDescriptor(m.subject, `${what} subject`, opts.lenientMediaType);
  if (m.artifactType !== undefined && typeof m.artifactType !== 'string')
    throw manifestInvalid(what, 'artifactType must be a string');
  const kind = manifestKind(type, m);
  if (kind === 'schema1') {
    // Legacy schema 1: blobs in fsLayers[].blobSum; nothing else is derived from it.
    const fs = Array.isArray(m.fsLayers) ? m.fsLayers : [];
    const blobs = fs.map((l: unknown, i) => {
      const d = isObject(l) ? l.blobSum : undefined;
      if (typeof d !== 'string' || !isDigest(d))
        throw manifestInvalid(`${what} fsLayers[${i}].blobSum`, 'is not a valid digest');
      return d;
    });
    return { kind, mediaType: type, blobs };
  }
  // An artifact of a media type Kura does not know is taken as it is, without a schemaVersion check.
  if (isImageManifestMediaType(type) || isIndexMediaType(type)) {
    if (m.schemaVersion !== 2)
      throw manifestInvalid(what, `schemaVersion must be 2, not ${JSON.stringify(m.schemaVersion)}`);
  }
  if (kind === 'index') {
    if (!Array.isArray(m.manifests)) throw manifestInvalid(what, 'an index needs a "manifests" array');
    m.manifests.forEach((d, i) => checkDescriptor(d, `${what} manifests[${i}]`, opts.lenientMediaType));
    return { kind, mediaType: type, manifest: m as unknown as IndexManifest };
  }
  checkDescriptor(m.config, `${what} config`, opts.lenientMediaType);
  if (m.layers === undefined) m.layers = [];
  if (!Array.isArray(m.layers)) throw manifestInvalid(what, '"layers" must be an array');
  m.layers.forEach((l, i) => checkDescriptor(l, `${what} layers[${i}]`, opts.lenientMediaType));
  return { kind, mediaType: type, manifest: m as unknown as ImageManifest };
}

/** Parses an artifact's manifest as its descriptor's media type, naming it by media type and digest in errors. */
export function parseArtifactManifest(a: Pick<Artifact, 'descriptor' | 'manifest'>): ParsedManifest {
  return parseManifest(a.manifest, a.descriptor.mediaType, {
    what: `${a.descriptor.mediaType} ${a.descriptor.digest}`,
  });
}

/** Parses bytes that must be an image manifest (not an index, not schema 1). */
export function parseImageManifest(bytes: Uint8Array, mediaType?: string, what = 'image manifest'): ImageManifest {
  const p = parseManifest(bytes, mediaType, { what });
  if (p.kind === 'index') throw manifestInvalid(what, 'is an index, not an image manifest');
  if (p.kind === 'schema1')
    throw manifestInvalid(what, 'is a Docker schema 1 manifest: only schema 2 and OCI images are read');
  return p.manifest;
}

/** Parses bytes that must be an index or Docker manifest list. */
export function parseIndexManifest(bytes: Uint8Array, mediaType?: string, what = 'index'): IndexManifest {
  const p = parseManifest(bytes, mediaType, { what });
  if (p.kind !== 'index') throw manifestInvalid(what, 'an index needs a "manifests" array');
  return p.manifest;
}

/** What a manifest references, as descriptors: an index's entries, or config and layers (foreign layers skipped). */
export function manifestChildren(p: ParsedManifest): Descriptor[] {
  if (p.kind === 'index') return p.manifest.manifests;
  if (p.kind === 'schema1') return [];
  return [p.manifest.config, ...p.manifest.layers.filter((l) => !l.urls?.length)];
}
