import type { Descriptor, Platform } from './artifact.js';
import { isDigest } from './digest.js';
import { OciError } from './errors.js';
import { isImageManifestMediaType, isIndexMediaType } from './mediatypes.js';

/** An image manifest (OCI or Docker schema 2), parsed. Unknown fields are kept. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [other: string]: unknown;
}

/** An image index (OCI) or manifest list (Docker), parsed. Unknown fields are kept. */
export interface IndexManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [other: string]: unknown;
}

function invalid(where: string, why: string): OciError {
  return new OciError('MANIFEST_INVALID', `${where}: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStringMap(v: unknown, where: string): void {
  if (v === undefined) return;
  if (!isObject(v)) throw invalid(where, 'must be an object of strings');
  for (const [k, s] of Object.entries(v)) if (typeof s !== 'string') throw invalid(where, `"${k}" must be a string`);
}

/** Checks one descriptor's shape (mediaType, digest, size, annotations, platform, urls). */
export function checkDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(where, 'is not a descriptor object');
  if (typeof v.mediaType !== 'string' || !v.mediaType) throw invalid(where, 'mediaType is missing');
  if (typeof v.digest !== 'string' || !isDigest(v.digest)) throw invalid(where, `digest "${String(v.digest).slice(0, 80)}" is not a valid digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw invalid(where, 'size must be a non-negative integer');
  checkStringMap(v.annotations, `${where}.annotations`);
  if (v.urls !== undefined && (!Array.isArray(v.urls) || v.urls.some((u) => typeof u !== 'string'))) throw invalid(where, 'urls must be an array of strings');
  if (v.artifactType !== undefined && typeof v.artifactType !== 'string') throw invalid(where, 'artifactType must be a string');
  if (v.platform !== undefined) {
    const p = v.platform as Partial<Platform>;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') throw invalid(where, 'platform needs os and architecture strings');
  }
  return v as unknown as Descriptor;
}

/** Parses manifest bytes as a JSON object, or throws MANIFEST_INVALID naming `what`. */
export function parseJsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalid(what, `not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw invalid(what, 'not a JSON object');
  return doc;
}

/** Whether manifest bytes of media type `mediaType` are an index (by media type, else by a `manifests` array). */
export function looksLikeIndex(mediaType: string, doc: Record<string, unknown>): boolean {
  if (isIndexMediaType(mediaType)) return true;
  if (isImageManifestMediaType(mediaType)) return false;
  return Array.isArray(doc.manifests);
}

function checkCommon(m: Record<string, unknown>, what: string, mediaType: string | undefined): void {
  if (m.schemaVersion !== 2) throw invalid(what, `schemaVersion must be 2, not ${JSON.stringify(m.schemaVersion)}`);
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string') throw invalid(what, 'mediaType must be a string');
  if (mediaType && m.mediaType !== undefined && m.mediaType !== mediaType) throw invalid(what, `its mediaType "${m.mediaType}" differs from the descriptor's "${mediaType}"`);
  if (m.artifactType !== undefined && typeof m.artifactType !== 'string') throw invalid(what, 'artifactType must be a string');
  checkStringMap(m.annotations, `${what} annotations`);
  if (m.subject !== undefined) checkDescriptor(m.subject, `${what} subject`);
}

/** Parses and shape-checks an image manifest. `mediaType`, when given, must agree with the document's. */
export function parseImageManifest(bytes: Buffer, mediaType?: string, what = 'image manifest'): ImageManifest {
  const m = parseJsonObject(bytes, what);
  if (Array.isArray(m.manifests)) throw invalid(what, 'is an index (it has "manifests"), not an image manifest');
  checkCommon(m, what, mediaType);
  checkDescriptor(m.config, `${what} config`);
  if (!Array.isArray(m.layers)) throw invalid(what, '"layers" must be an array');
  m.layers.forEach((l, i) => checkDescriptor(l, `${what} layers[${i}]`));
  return m as unknown as ImageManifest;
}

/** Parses and shape-checks an index (or Docker manifest list). */
export function parseIndexManifest(bytes: Buffer, mediaType?: string, what = 'index'): IndexManifest {
  const m = parseJsonObject(bytes, what);
  checkCommon(m, what, mediaType);
  if (!Array.isArray(m.manifests)) throw invalid(what, 'an index needs a "manifests" array');
  m.manifests.forEach((d, i) => checkDescriptor(d, `${what} manifests[${i}]`));
  return m as unknown as IndexManifest;
}
