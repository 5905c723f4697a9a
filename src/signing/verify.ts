import type { KeyObject } from 'node:crypto';
import type { Artifact, Descriptor } from '../oci/artifact.js';
import { readSmallBlob } from '../oci/blob.js';
import { digestOf, type Digest } from '../oci/digest.js';
import {
  openDsse,
  parseSimpleSigning,
  verifyBytes,
  SigningTypes,
  STATEMENT_V01,
  STATEMENT_V1,
  type DsseEnvelope,
  type SigstoreBundle,
  type SimpleSigningPayload,
  type Statement,
} from './formats.js';
import { cosignTag, type GraphStore } from './store.js';
import { parseArtifactManifest, parseJsonObject } from '../oci/manifest.js';
import type { KeylessPolicy } from './keyless.js';

/** sigstore's libraries, loaded only for keyless verification. */
const keylessLib = () => import('./keyless.js');

/** The verdict on one cosign simple-signing signature, part by part (as c/image's tests state them). */
export interface SimpleSigningVerdict {
  valid: boolean;
  signatureOk: boolean;
  digestOk: boolean;
  /** The payload's docker-reference, when the payload parses. */
  identity?: string;
  payload?: SimpleSigningPayload;
  reason?: string;
}

/**
 * The digest a signature of this manifest must name. Docker schema 1 manifests carry JWS signatures
 * and their digest is not that of their bytes; they are refused (c/image refuses them too).
 */
export function manifestDigestForSignature(manifest: Buffer): Digest {
  let doc: Record<string, unknown>;
  try {
    doc = parseJsonObject(manifest, 'the manifest');
  } catch {
    throw new Error('the manifest is not JSON');
  }
  if (doc.schemaVersion === 1)
    throw new Error(
      'Docker schema 1 manifests cannot be verified (their digest is not the digest of their bytes); convert the ' +
        'image to schema 2 or OCI',
    );
  return digestOf(manifest);
}

/**
 * Verifies one simple-signing signature (a `.sig` layer: payload blob + base64 signature annotation)
 * against the signed manifest's bytes and the keys.
 */
export function verifySimpleSigning(
  mediaType: string,
  payload: Buffer,
  signatureB64: string | undefined,
  manifest: Buffer,
  keys: readonly KeyObject[],
): SimpleSigningVerdict {
  if (mediaType !== SigningTypes.SimpleSigning)
    return { valid: false, signatureOk: false, digestOk: false, reason: `not a cosign signature (${mediaType})` };
  const sig = Buffer.from(signatureB64 ?? '', 'base64');
  const signatureOk = sig.length > 0 && keys.some((k) => verifyBytes(k, payload, sig));
  let parsed: SimpleSigningPayload | undefined;
  let digestOk = false;
  let reason: string | undefined;
  try {
    parsed = parseSimpleSigning(payload);
    const want = manifestDigestForSignature(manifest);
    digestOk = parsed.critical.image['docker-manifest-digest'] === want;
    if (!digestOk)
      reason = `the signature is for ${parsed.critical.image['docker-manifest-digest']}, the manifest is ${want}`;
  } catch (e) {
    reason = (e as Error).message;
  }
  if (!signatureOk) reason = 'no key verifies the signature';
  return {
    valid: signatureOk && digestOk,
    signatureOk,
    digestOk,
    ...(parsed ? { identity: parsed.critical.identity['docker-reference'], payload: parsed } : {}),
    ...(reason ? { reason } : {}),
  };
}

/** A statement from a verified DSSE envelope, when it is an in-toto statement about `digest`. */
export function statementAbout(payload: Buffer, digest: Digest): Statement | undefined {
  try {
    const s = JSON.parse(payload.toString('utf8')) as Statement;
    if (s._type !== STATEMENT_V01 && s._type !== STATEMENT_V1) return undefined;
    const [alg, hex] = digest.split(':') as [string, string];
    return Array.isArray(s.subject) && s.subject.some((x) => x?.digest?.[alg] === hex) ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a signed docker-reference satisfies `--identity REF`: a tag or digest must match exactly; a bare repository
 * matches any tag of it.
 */
export function identityMatches(want: string, signed: string): boolean {
  const bare = (s: string) => s.replace(/@.*$/, '').replace(/:[^:/]*$/, '');
  const hasRef = (s: string) => s.includes('@') || /:[^/]*$/.test(s.replace(/^[^/]*\//, ''));
  return hasRef(want) ? want === signed : bare(signed) === want;
}

/** One verified signature or attestation. */
export interface Verified {
  /** The manifest it is about. */
  digest: Digest;
  via: 'tag' | 'referrers';
  /** A cosign tag or a referrer's digest. */
  from: string;
  /** The simple-signing payload, or the in-toto statement. */
  payload: unknown;
  identity?: string;
  predicateType?: string;
}

export interface VerifyOptions {
  keys: readonly KeyObject[];
  /** Keyless: certificates from the trusted root's Fulcio with this identity, instead of `keys`. */
  keyless?: KeylessPolicy;
  /** `-a key=value`: each must be in the payload's optional part (or the bundle predicate's annotations). */
  annotations?: Record<string, string>;
  /** `--identity`: the docker-reference must match. */
  identity?: string;
}

/** What verification found: the verified signatures and why each other candidate failed. */
export interface VerifyResult {
  digest: Digest;
  verified: Verified[];
  rejected: { from: string; reason: string }[];
}

function annotationsMatch(want: Record<string, string> | undefined, have: unknown): boolean {
  if (!want) return true;
  const h = (have ?? {}) as Record<string, unknown>;
  return Object.entries(want).every(([k, v]) => h[k] === v);
}

async function layersOf(a: Artifact): Promise<{ layer: Descriptor; blob: Buffer }[]> {
  const m = parseArtifactManifest(a);
  const layers = m.kind === 'image' ? m.manifest.layers : [];
  return Promise.all(layers.map(async (layer) => ({ layer, blob: await readSmallBlob(a.blobs, layer) })));
}

/**
 * The in-toto statements of verified bundles among a manifest's referrers (signatures when `sign`, else attestations).
 */
async function bundleStatements(
  store: GraphStore,
  digest: Digest,
  o: Pick<VerifyOptions, 'keys' | 'keyless'>,
  rejected: VerifyResult['rejected'],
): Promise<{ from: string; stmt: Statement }[]> {
  const out: { from: string; stmt: Statement }[] = [];
  for (const r of await store.referrers(digest)) {
    if (r.artifactType !== SigningTypes.Bundle) continue;
    const a = await store.get(r.digest);
    for (const { layer, blob } of await layersOf(a)) {
      if (layer.mediaType !== SigningTypes.Bundle) continue;
      let bundle: SigstoreBundle;
      try {
        bundle = JSON.parse(blob.toString('utf8')) as SigstoreBundle;
      } catch {
        rejected.push({ from: r.digest, reason: 'the bundle is not JSON' });
        continue;
      }
      if (!bundle.dsseEnvelope) {
        rejected.push({
          from: r.digest,
          reason: 'a message-signature bundle (Kura verifies DSSE bundles, as cosign v3 writes for images)',
        });
        continue;
      }
      let payload: Buffer | undefined;
      let why = 'no key verifies the bundle';
      if (o.keyless) {
        const k = await keylessLib();
        const v = k.isKeylessBundle(bundle as never) ? k.verifyKeylessBundle(bundle, o.keyless) : undefined;
        if (v?.ok) payload = v.payload;
        else why = v ? v.reason : 'a key-signed bundle (verify it with --key)';
      } else payload = openDsse(bundle.dsseEnvelope, o.keys);
      const stmt = payload && statementAbout(payload, digest);
      if (!stmt) rejected.push({ from: r.digest, reason: payload ? 'the statement is not about this manifest' : why });
      else out.push({ from: r.digest, stmt });
    }
  }
  return out;
}

/** Finds every signature of an image (cosign `.sig` tag and sigstore-bundle referrers) and verifies each. */
export async function verifyImage(store: GraphStore, ref: string, o: VerifyOptions): Promise<VerifyResult> {
  const image = await store.get(ref);
  const digest = image.descriptor.digest;
  const res: VerifyResult = { digest, verified: [], rejected: [] };
  const tag = cosignTag(digest, 'sig');
  const sigs = await store.find(tag);
  if (sigs) {
    for (const { layer, blob } of await layersOf(sigs)) {
      const sig = layer.annotations?.[SigningTypes.SignatureAnnotation];
      let keys = o.keys;
      if (o.keyless && layer.mediaType === SigningTypes.SimpleSigning) {
        const kl = await keylessLib();
        const k = layer.annotations?.[kl.KeylessAnnotations.Certificate]
          ? kl.verifyKeylessLayer(blob, layer.annotations, sig ?? '', o.keyless)
          : { ok: false as const, reason: 'a key-signed signature (verify it with --key)' };
        if (!k.ok) {
          res.rejected.push({ from: tag, reason: k.reason });
          continue;
        }
        keys = [k.signer.key];
      }
      const v = verifySimpleSigning(layer.mediaType, blob, sig, image.manifest, keys);
      const id = v.identity;
      if (!v.valid) res.rejected.push({ from: tag, reason: v.reason ?? 'invalid' });
      else if (o.identity && !identityMatches(o.identity, id!))
        res.rejected.push({ from: tag, reason: `signed for ${id}, not ${o.identity}` });
      else if (!annotationsMatch(o.annotations, v.payload!.optional))
        res.rejected.push({ from: tag, reason: 'the annotations differ' });
      else res.verified.push({ digest, via: 'tag', from: tag, payload: v.payload, identity: id });
    }
  }
  for (const { from, stmt } of await bundleStatements(store, digest, o, res.rejected)) {
    if (stmt.predicateType !== SigningTypes.CosignSignPredicate) continue;
    const id = stmt.subject[0]?.name ?? '';
    if (o.identity && !identityMatches(o.identity, id))
      res.rejected.push({ from, reason: `signed for ${id}, not ${o.identity}` });
    else if (!annotationsMatch(o.annotations, (stmt.predicate as { annotations?: unknown } | null)?.annotations))
      res.rejected.push({ from, reason: 'the annotations differ' });
    else
      res.verified.push({
        digest,
        via: 'referrers',
        from,
        payload: stmt,
        identity: id,
        predicateType: stmt.predicateType,
      });
  }
  return res;
}

/**
 * Finds every attestation of an image (`.att` tag and bundle referrers), verifies each, keeps those of `type` (a URI)
 * if given.
 */
export async function verifyAttestations(
  store: GraphStore,
  ref: string,
  o: VerifyOptions & { type?: string },
): Promise<VerifyResult> {
  const image = await store.get(ref);
  const digest = image.descriptor.digest;
  const res: VerifyResult = { digest, verified: [], rejected: [] };
  const tag = cosignTag(digest, 'att');
  const atts = await store.find(tag);
  const found: { from: string; via: 'tag' | 'referrers'; stmt: Statement }[] = [];
  if (atts) {
    for (const { layer, blob } of await layersOf(atts)) {
      if (layer.mediaType !== SigningTypes.Dsse) continue;
      let env: DsseEnvelope | undefined;
      try {
        env = JSON.parse(blob.toString('utf8')) as DsseEnvelope;
      } catch {
        env = undefined;
      }
      let payload: Buffer | undefined;
      let why = env ? 'no key verifies the envelope' : 'the envelope is not JSON';
      if (env && o.keyless) {
        const kl = await keylessLib();
        const v = layer.annotations?.[kl.KeylessAnnotations.Certificate]
          ? kl.verifyKeylessEnvelope(env, layer.annotations, o.keyless)
          : { ok: false as const, reason: 'a key-signed attestation (verify it with --key)' };
        if (v.ok) payload = v.payload;
        else why = v.reason;
      } else if (env) payload = openDsse(env, o.keys);
      const stmt = payload && statementAbout(payload, digest);
      if (!stmt) res.rejected.push({ from: tag, reason: payload ? 'the statement is not about this manifest' : why });
      else found.push({ from: tag, via: 'tag', stmt });
    }
  }
  for (const b of await bundleStatements(store, digest, o, res.rejected))
    if (b.stmt.predicateType !== SigningTypes.CosignSignPredicate) found.push({ ...b, via: 'referrers' });
  for (const f of found) {
    if (o.type && f.stmt.predicateType !== o.type) continue;
    res.verified.push({
      digest,
      via: f.via,
      from: f.from,
      payload: f.stmt,
      identity: f.stmt.subject[0]?.name,
      predicateType: f.stmt.predicateType,
    });
  }
  return res;
}
