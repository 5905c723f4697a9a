import { isDigest, type Digest } from './digest.js';
import { OciError } from './errors.js';
import { MediaTypes, isImageManifestMediaType, isIndexMediaType } from './mediatypes.js';

/** What a registry must know about a manifest it stores; the bytes themselves are kept verbatim. */
export interface ManifestInfo {
  mediaType: string;
  /** Config and layers that must exist (non-distributable layers with `urls` excluded). */
  blobs: Digest[];
  /** Child manifests of an index. */
  manifests: Digest[];
  subject: Digest | null;
  /** Referrers artifact type: `artifactType`, else the config media type for image manifests. */
  artifactType: string | null;
  annotations: Record<string, string> | null;
  /** The size each descriptor of `blobs` and `manifests` declares, and where it stands (e.g. `layers[2]`). */
  declared: DeclaredSize[];
}

export interface DeclaredSize {
  digest: Digest;
  size: number;
  where: string;
  kind: 'blob' | 'manifest';
}

interface DescriptorJson {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  urls?: unknown;
}

function invalid(msg: string): OciError {
  return new OciError('MANIFEST_INVALID', `manifest invalid: ${msg}`, { reason: msg });
}

function descriptor(d: unknown, where: string): { digest: Digest; size: number; mediaType: string | null; urls: boolean } {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw invalid(`${where} is not a descriptor object`);
  const desc = d as DescriptorJson;
  if (typeof desc.digest !== 'string' || !isDigest(desc.digest)) throw invalid(`${where}.digest is not a valid digest`);
  if (typeof desc.size !== 'number' || !Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  if (desc.mediaType !== undefined && typeof desc.mediaType !== 'string') throw invalid(`${where}.mediaType must be a string`);
  const urls = Array.isArray(desc.urls) && desc.urls.length > 0;
  return { digest: desc.digest, size: desc.size, mediaType: (desc.mediaType as string | undefined) ?? null, urls };
}

function annotationsOf(v: unknown): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('annotations must be an object');
  for (const [k, val] of Object.entries(v)) if (typeof val !== 'string') throw invalid(`annotation "${k}" must be a string`);
  return v as Record<string, string>;
}

/** Guesses the media type of a manifest pushed without Content-Type or mediaType field. */
function guessMediaType(doc: Record<string, unknown>): string {
  if (Array.isArray(doc.manifests)) return MediaTypes.OciIndex;
  if (doc.schemaVersion === 1) return MediaTypes.DockerSchema1Signed;
  return MediaTypes.OciManifest;
}

/**
 * Parses manifest bytes pushed with `contentType` (may be empty). Validates only what a registry
 * relies on; unknown fields, artifact types and config media types are accepted as they are.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ManifestInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw invalid('body is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('body is not a JSON object');
  const m = doc as Record<string, unknown>;
  const ct = contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string') throw invalid('mediaType must be a string');
  const declared = m.mediaType as string | undefined;
  if (declared !== undefined && ct !== undefined && declared !== ct) {
    throw invalid(`Content-Type "${ct}" does not match the manifest mediaType "${declared}"`);
  }
  const mediaType = ct ?? declared ?? guessMediaType(m);
  const annotations = annotationsOf(m.annotations);
  let subject: Digest | null = null;
  if (m.subject !== undefined && m.subject !== null) subject = descriptor(m.subject, 'subject').digest;
  if (m.artifactType !== undefined && typeof m.artifactType !== 'string') throw invalid('artifactType must be a string');
  const artifactType = (m.artifactType as string | undefined) ?? null;

  if (mediaType === MediaTypes.DockerSchema1Signed || mediaType === MediaTypes.DockerSchema1) {
    // Legacy schema 1: blobs in fsLayers[].blobSum. Stored for old clients; nothing else to derive.
    const fs = Array.isArray(m.fsLayers) ? m.fsLayers : [];
    const blobs = fs.map((l, i) => {
      const d = (l as { blobSum?: unknown })?.blobSum;
      if (typeof d !== 'string' || !isDigest(d)) throw invalid(`fsLayers[${i}].blobSum is not a valid digest`);
      return d;
    });
    return { mediaType, blobs: [...new Set(blobs)], manifests: [], subject: null, artifactType: null, annotations: null, declared: [] };
  }

  const isIndex = isIndexMediaType(mediaType) || (!isImageManifestMediaType(mediaType) && Array.isArray(m.manifests));
  if (isImageManifestMediaType(mediaType) || isIndexMediaType(mediaType)) {
    if (m.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  }
  if (isIndex) {
    if (!Array.isArray(m.manifests)) throw invalid('an index needs a "manifests" array');
    const sizes: DeclaredSize[] = m.manifests.map((d, i) => {
      const where = `manifests[${i}]`;
      const desc = descriptor(d, where);
      return { digest: desc.digest, size: desc.size, where, kind: 'manifest' };
    });
    const manifests = sizes.map((d) => d.digest);
    return { mediaType, blobs: [], manifests: [...new Set(manifests)], subject, artifactType, annotations, declared: sizes };
  }
  if (m.config === undefined) throw invalid('an image manifest needs a "config" descriptor');
  const config = descriptor(m.config, 'config');
  const layers = m.layers === undefined ? [] : m.layers;
  if (!Array.isArray(layers)) throw invalid('"layers" must be an array');
  const blobs: Digest[] = [config.digest];
  const sizes: DeclaredSize[] = [{ digest: config.digest, size: config.size, where: 'config', kind: 'blob' }];
  layers.forEach((l, i) => {
    const d = descriptor(l, `layers[${i}]`);
    // Non-distributable (foreign) layers live elsewhere; Distribution does not require them either.
    if (d.urls) return;
    blobs.push(d.digest);
    sizes.push({ digest: d.digest, size: d.size, where: `layers[${i}]`, kind: 'blob' });
  });
  return {
    mediaType,
    blobs: [...new Set(blobs)],
    manifests: [],
    subject,
    artifactType: artifactType ?? config.mediaType,
    annotations,
    declared: sizes,
  };
}
