import { createHash, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { isDigest, type Digest } from '../oci/digest.js';

/** Media types and annotation keys of cosign and sigstore (clients.md §2.7). */
export const SigningTypes = {
  SimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  Dsse: 'application/vnd.dsse.envelope.v1+json',
  Bundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  InToto: 'application/vnd.in-toto+json',
  SignatureAnnotation: 'dev.cosignproject.cosign/signature',
  CertificateAnnotation: 'dev.sigstore.cosign/certificate',
  BundleContent: 'dev.sigstore.bundle.content',
  BundlePredicateType: 'dev.sigstore.bundle.predicateType',
  /** The predicate type cosign v3 gives an image signature made as a bundle. */
  CosignSignPredicate: 'https://sigstore.dev/cosign/sign/v1',
  SimpleSigningType: 'cosign container image signature',
} as const;

/** cosign's `--type` shorthands (cosign `options/predicate.go`); anything else must be a URI. */
export const PREDICATE_TYPES: Record<string, string> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  link: 'https://in-toto.io/Link/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

/** A predicate type from a `--type` value: a shorthand or a URI. */
export function predicateType(t: string): string {
  const known = PREDICATE_TYPES[t.toLowerCase()];
  if (known) return known;
  if (/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(t)) return t;
  throw new Error(`--type takes ${Object.keys(PREDICATE_TYPES).join(', ')} or a URI, not "${t}"`);
}

/** The simple-signing payload cosign signs (cosign `payload.SimpleContainerImage`). */
export interface SimpleSigningPayload {
  critical: { identity: { 'docker-reference': string }; image: { 'docker-manifest-digest': string }; type: string };
  optional: Record<string, unknown> | null;
}

/** The payload for an image: its repository (cosign's identity) and digest, plus `-a` annotations. */
export function simpleSigningPayload(
  dockerReference: string,
  digest: Digest,
  annotations: Record<string, string> = {},
): Buffer {
  const p: SimpleSigningPayload = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: SigningTypes.SimpleSigningType,
    },
    optional: Object.keys(annotations).length ? annotations : null,
  };
  return Buffer.from(JSON.stringify(p));
}

/** Parses a simple-signing payload, or says why it is not one. */
export function parseSimpleSigning(bytes: Buffer): SimpleSigningPayload {
  let p: SimpleSigningPayload;
  try {
    p = JSON.parse(bytes.toString('utf8')) as SimpleSigningPayload;
  } catch {
    throw new Error('the payload is not JSON');
  }
  if (p?.critical?.type !== SigningTypes.SimpleSigningType)
    throw new Error(`the payload's critical.type is not "${SigningTypes.SimpleSigningType}"`);
  const d = p.critical.image?.['docker-manifest-digest'];
  if (typeof d !== 'string' || !isDigest(d))
    throw new Error('the payload has no valid critical.image.docker-manifest-digest');
  if (typeof p.critical.identity?.['docker-reference'] !== 'string')
    throw new Error('the payload has no critical.identity.docker-reference');
  return p;
}

/** A DSSE envelope (in-toto attestations, cosign `.att` layers, bundle `dsseEnvelope`). */
export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: { keyid?: string; sig: string }[];
}

/** DSSE's pre-authentication encoding: what a DSSE signature covers. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const t = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${payload.length} `), payload]);
}

/** An in-toto statement about one image. */
export interface Statement {
  _type: string;
  predicateType: string;
  subject: { name: string; digest: Record<string, string> }[];
  predicate: unknown;
}

export const STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

/** The in-toto statement cosign attests (`_type` v0.1, as cosign writes it; v1 is read too). */
export function statement(name: string, digest: Digest, type: string, predicate: unknown): Buffer {
  const [alg, hex] = digest.split(':') as [string, string];
  const s: Statement = {
    _type: STATEMENT_V01,
    predicateType: type,
    subject: [{ name, digest: { [alg]: hex } }],
    predicate,
  };
  return Buffer.from(JSON.stringify(s));
}

/** The hash cosign pairs with a key: SHA-256 (Ed25519 signs the message itself). */
function hashFor(k: KeyObject): string | null {
  return k.asymmetricKeyType === 'ed25519' ? null : 'sha256';
}

/** A signature over `data` (cosign: ECDSA over SHA-256, ASN.1 DER). */
export function signBytes(key: KeyObject, data: Buffer): Buffer {
  return cryptoSign(hashFor(key), data, key);
}

/** Whether `sig` is a valid signature of `data` by `key` (false, never a throw, for junk). */
export function verifyBytes(key: KeyObject, data: Buffer, sig: Buffer): boolean {
  try {
    return cryptoVerify(hashFor(key), data, key, sig);
  } catch {
    return false;
  }
}

/** Signs a DSSE envelope over a payload. */
export function signDsse(key: KeyObject, payloadType: string, payload: Buffer): DsseEnvelope {
  return {
    payloadType,
    payload: payload.toString('base64'),
    signatures: [{ keyid: '', sig: signBytes(key, pae(payloadType, payload)).toString('base64') }],
  };
}

/** The payload of a DSSE envelope when one of its signatures verifies with one of the keys. */
export function openDsse(env: DsseEnvelope, keys: readonly KeyObject[]): Buffer | undefined {
  if (typeof env?.payload !== 'string' || typeof env.payloadType !== 'string' || !Array.isArray(env.signatures))
    return undefined;
  const payload = Buffer.from(env.payload, 'base64');
  const data = pae(env.payloadType, payload);
  for (const s of env.signatures)
    for (const k of keys)
      if (typeof s?.sig === 'string' && verifyBytes(k, data, Buffer.from(s.sig, 'base64'))) return payload;
  return undefined;
}

/** The key hint a sigstore bundle carries for a public key: base64 SHA-256 of its SPKI DER. */
export function keyHint(k: KeyObject): string {
  const spki = (k.type === 'private' ? createPublicKey(k) : k).export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(spki).digest('base64');
}

/** A sigstore bundle v0.3 (key-signed: a public-key hint, no transparency log entries). */
export interface SigstoreBundle {
  mediaType: string;
  verificationMaterial: { publicKey?: { hint?: string }; tlogEntries?: unknown[]; certificate?: { rawBytes: string } };
  dsseEnvelope?: DsseEnvelope;
  messageSignature?: { messageDigest: { algorithm: string; digest: string }; signature: string };
}

/** A bundle holding a DSSE envelope over an in-toto statement. */
export function dsseBundle(key: KeyObject, publicKey: KeyObject, stmt: Buffer): SigstoreBundle {
  return {
    mediaType: SigningTypes.Bundle,
    verificationMaterial: { publicKey: { hint: keyHint(publicKey) }, tlogEntries: [] },
    dsseEnvelope: signDsse(key, SigningTypes.InToto, stmt),
  };
}
