import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Artifact, Descriptor } from '../oci/artifact.js';
import { OverlayBlobs } from '../oci/blob.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { MediaTypes, isIndexMediaType } from '../oci/mediatypes.js';
import { dsseBundle, signBytes, signDsse, simpleSigningPayload, statement, SigningTypes } from './formats.js';
import { cosignTag, type GraphStore } from './store.js';
import { openImage } from '../oci/image.js';
import { parseIndexManifest } from '../oci/manifest.js';

/** The empty descriptor OCI 1.1 artifacts use as config. */
const EMPTY = Buffer.from('{}');
const EMPTY_DESCRIPTOR: Descriptor = { mediaType: MediaTypes.OciEmpty, digest: digestOf(EMPTY), size: 2 };

/** What was written for one signed or attested manifest. */
export interface AttachResult {
  /** The manifest signed or attested. */
  subject: Digest;
  /** Where it went: a cosign tag, or a referrer's digest. */
  stored: string;
  via: 'tag' | 'referrers';
}

export interface SignOptions {
  key: KeyObject;
  /** `-a key=value`: in the payload's `optional` (tag scheme) or the predicate (bundle). */
  annotations?: Record<string, string>;
  /** Store as an OCI 1.1 referrer holding a sigstore bundle (cosign v3) instead of a `.sig` tag. */
  referrers?: boolean;
  /** Also sign every child manifest of an index. */
  recursive?: boolean;
}

/** The manifests a signature covers: the root, and with `recursive` every child of an index. */
export function signTargets(a: Artifact, recursive: boolean): Descriptor[] {
  if (!recursive || !isIndexMediaType(a.descriptor.mediaType)) return [a.descriptor];
  const m = parseIndexManifest(a.manifest, a.descriptor.mediaType, `index ${a.descriptor.digest}`);
  return [a.descriptor, ...m.manifests];
}

/** cosign's config for a signature or attestation image: empty but for the layers' diff_ids. */
function cosignConfig(layers: Descriptor[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

/**
 * Adds one layer to the cosign image at `tag` (creating it), as cosign does: one layer per signature
 * or attestation; an identical layer (same blob, same annotations) is not added twice.
 */
async function appendToTag(
  store: GraphStore,
  tag: string,
  blob: Buffer,
  mediaType: string,
  annotations: Record<string, string>,
): Promise<void> {
  const old = await store.find(tag);
  const layers: Descriptor[] = old ? openImage(old).manifest.layers : [];
  const layer: Descriptor = { mediaType, digest: digestOf(blob), size: blob.length, annotations };
  if (
    layers.some((l) => l.digest === layer.digest && JSON.stringify(l.annotations ?? {}) === JSON.stringify(annotations))
  )
    return;
  const all = [...layers, layer];
  const config = cosignConfig(all);
  const configDesc: Descriptor = { mediaType: MediaTypes.OciConfig, digest: digestOf(config), size: config.length };
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, config: configDesc, layers: all }),
  );
  const added = new Map<Digest, Buffer>([
    [layer.digest, blob],
    [configDesc.digest, config],
  ]);
  const blobs = new OverlayBlobs(added, old ? [old.blobs] : []);
  await store.put(tag, {
    descriptor: { mediaType: MediaTypes.OciManifest, digest: digestOf(manifest), size: manifest.length },
    manifest,
    blobs,
  });
}

/** An OCI 1.1 artifact holding one sigstore bundle, with `subject` = the signed manifest. */
async function putBundle(store: GraphStore, subject: Descriptor, bundle: object, predicate: string): Promise<Digest> {
  const blob = Buffer.from(JSON.stringify(bundle));
  const layer: Descriptor = { mediaType: SigningTypes.Bundle, digest: digestOf(blob), size: blob.length };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      artifactType: SigningTypes.Bundle,
      config: EMPTY_DESCRIPTOR,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: {
        [SigningTypes.BundleContent]: 'dsse-envelope',
        [SigningTypes.BundlePredicateType]: predicate,
        'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    }),
  );
  const added = new Map<Digest, Buffer>([
    [layer.digest, blob],
    [EMPTY_DESCRIPTOR.digest, EMPTY],
  ]);
  const a: Artifact = {
    descriptor: { mediaType: MediaTypes.OciManifest, digest: digestOf(manifest), size: manifest.length },
    manifest,
    blobs: new OverlayBlobs(added, []),
  };
  await store.putReferrer(a, subject.digest);
  return a.descriptor.digest;
}

/** Signs an image (and with `recursive` each child of an index) in cosign's formats. */
export async function signImage(store: GraphStore, ref: string, o: SignOptions): Promise<AttachResult[]> {
  const a = await store.get(ref);
  const out: AttachResult[] = [];
  for (const t of signTargets(a, !!o.recursive)) {
    if (o.referrers) {
      const stmt = statement(
        store.name,
        t.digest,
        SigningTypes.CosignSignPredicate,
        o.annotations && Object.keys(o.annotations).length ? { annotations: o.annotations } : {},
      );
      const stored = await putBundle(
        store,
        t,
        dsseBundle(o.key, createPublicKey(o.key), stmt),
        SigningTypes.CosignSignPredicate,
      );
      out.push({ subject: t.digest, stored, via: 'referrers' });
    } else {
      const payload = simpleSigningPayload(store.name, t.digest, o.annotations);
      const sig = signBytes(o.key, payload).toString('base64');
      const tag = cosignTag(t.digest, 'sig');
      await appendToTag(store, tag, payload, SigningTypes.SimpleSigning, { [SigningTypes.SignatureAnnotation]: sig });
      out.push({ subject: t.digest, stored: tag, via: 'tag' });
    }
  }
  return out;
}

export interface AttestOptions {
  key: KeyObject;
  /** The full predicate type URI. */
  type: string;
  predicate: unknown;
  referrers?: boolean;
  recursive?: boolean;
}

/** Attests an image: an in-toto statement in a DSSE envelope, as a `.att` layer or a bundle referrer. */
export async function attestImage(store: GraphStore, ref: string, o: AttestOptions): Promise<AttachResult[]> {
  const a = await store.get(ref);
  const out: AttachResult[] = [];
  for (const t of signTargets(a, !!o.recursive)) {
    const stmt = statement(store.name, t.digest, o.type, o.predicate);
    if (o.referrers) {
      const stored = await putBundle(store, t, dsseBundle(o.key, createPublicKey(o.key), stmt), o.type);
      out.push({ subject: t.digest, stored, via: 'referrers' });
    } else {
      const env = Buffer.from(JSON.stringify(signDsse(o.key, SigningTypes.InToto, stmt)));
      const tag = cosignTag(t.digest, 'att');
      await appendToTag(store, tag, env, SigningTypes.Dsse, {
        [SigningTypes.SignatureAnnotation]: '',
        predicateType: o.type,
      });
      out.push({ subject: t.digest, stored: tag, via: 'tag' });
    }
  }
  return out;
}
