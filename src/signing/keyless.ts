/** Keyless (Fulcio certificate + Rekor entry) verification, offline against a trusted root, on sigstore's libraries. */
import { readFile } from 'node:fs/promises';
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial, type Signer, type TrustMaterial } from '@sigstore/verify';
// The chain check alone, for policy.json's `fulcio` (no SCTs): not on the package's index, but its own module.
import { verifyCertificateChain } from '@sigstore/verify/dist/key/certificate.js';

/** cosign's annotations on a keyless `.sig` layer. */
export const KeylessAnnotations = {
  Certificate: 'dev.sigstore.cosign/certificate',
  Chain: 'dev.sigstore.cosign/chain',
  Bundle: 'dev.sigstore.cosign/bundle',
} as const;

/** Who must have signed: cosign's `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`. */
export interface KeylessPolicy {
  trust: TrustMaterial;
  /**
   * A policy.json `fulcio` requirement names no CT log, and containers/image does not check the certificate's SCTs
   * (the Rekor entry proves the certificate was logged): skip them. cosign's flags check one, as cosign does.
   */
  noSct?: boolean;
  identity?: string;
  identityRegexp?: RegExp;
  issuer?: string;
  issuerRegexp?: RegExp;
}

/** Reads a sigstore `trusted_root.json` (what `cosign verify --trusted-root` takes). */
export async function loadTrustedRoot(file: string): Promise<TrustMaterial> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the trusted root ${file}: ${(e as Error).message}`);
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== 'string' || !mediaType.startsWith('application/vnd.dev.sigstore.trustedroot'))
    throw new Error(`${file} is not a sigstore trusted root (trusted_root.json): no trustedroot mediaType`);
  try {
    return toTrustMaterial(TrustedRoot.fromJSON(json));
  } catch (e) {
    throw new Error(`${file} is not a sigstore trusted root (trusted_root.json): ${(e as Error).message}`);
  }
}

/** The policy from cosign's four flags; as in cosign (Go's MatchString), a regexp matches anywhere unless anchored. */
export function keylessPolicy(
  trust: TrustMaterial,
  o: { identity?: string; identityRegexp?: string; issuer?: string; issuerRegexp?: string },
): KeylessPolicy {
  const re = (s: string | undefined, flag: string) => {
    if (s === undefined) return undefined;
    try {
      return new RegExp(s);
    } catch (e) {
      throw new Error(`${flag}: ${(e as Error).message}`);
    }
  };
  if (o.identity === undefined && o.identityRegexp === undefined)
    throw new Error('keyless verification needs --certificate-identity or --certificate-identity-regexp');
  if (o.issuer === undefined && o.issuerRegexp === undefined)
    throw new Error('keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp');
  const p: KeylessPolicy = { trust };
  if (o.identity !== undefined) p.identity = o.identity;
  if (o.issuer !== undefined) p.issuer = o.issuer;
  const ir = re(o.identityRegexp, '--certificate-identity-regexp');
  const sr = re(o.issuerRegexp, '--certificate-oidc-issuer-regexp');
  if (ir) p.identityRegexp = ir;
  if (sr) p.issuerRegexp = sr;
  return p;
}

/** Why the signer's certificate does not satisfy the policy, or undefined when it does. */
function policyMismatch(p: KeylessPolicy, signer: Signer): string | undefined {
  const text = (re: RegExp) => re.source.replace(/\\\//g, '/');
  const san = signer.identity?.subjectAlternativeName ?? '';
  const iss = signer.identity?.extensions?.issuer ?? '';
  if (p.identity !== undefined && san !== p.identity) return `the certificate identity is ${san}, not ${p.identity}`;
  if (p.identityRegexp && !p.identityRegexp.test(san))
    return `the certificate identity ${san} does not match ${text(p.identityRegexp)}`;
  if (p.issuer !== undefined && iss !== p.issuer) return `the certificate OIDC issuer is ${iss}, not ${p.issuer}`;
  if (p.issuerRegexp && !p.issuerRegexp.test(iss))
    return `the certificate OIDC issuer ${iss} does not match ${text(p.issuerRegexp)}`;
  return undefined;
}

/** A verified signer, or why not. */
export type KeylessVerdict = { ok: true; signer: Signer } | { ok: false; reason: string };

const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

/**
 * sigstore's Verifier; with `noSct` its signing-key step is the chain check alone (its own, at each verified
 * timestamp) without the SCT check it cannot switch off for a certificate that carries SCTs. The transparency-log,
 * timestamp and signature steps stay sigstore's.
 */
function verifierFor(p: KeylessPolicy): Verifier {
  const v = new Verifier(p.trust, p.noSct ? { ctlogThreshold: 0 } : {});
  if (!p.noSct) return v;
  type Entity = ReturnType<typeof toSignedEntity>;
  (v as unknown as { verifySigningKey(e: Entity, ts: Date[]): Signer }).verifySigningKey = ({ key }, timestamps) => {
    if (key.$case !== 'certificate') throw new Error('the signature has no Fulcio certificate');
    let path = [key.certificate];
    for (const t of timestamps) path = verifyCertificateChain(t, key.certificate, p.trust.certificateAuthorities);
    const leaf = path[0]!;
    const v2 = leaf.extension(OID_ISSUER_V2)?.valueObj.subs?.[0]?.value.toString('ascii');
    const issuer = v2 ?? leaf.extension(OID_ISSUER_V1)?.value.toString('ascii');
    return {
      key: createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' }),
      identity: { subjectAlternativeName: leaf.subjectAltName, extensions: { issuer } },
    };
  };
  return v;
}

function verifyEntity(bundle: Bundle, p: KeylessPolicy, artifact?: Buffer): KeylessVerdict {
  let signer: Signer;
  try {
    signer = verifierFor(p).verify(toSignedEntity(bundle, artifact));
  } catch (e) {
    return { ok: false, reason: `keyless verification failed: ${(e as Error).message}` };
  }
  const bad = policyMismatch(p, signer);
  return bad ? { ok: false, reason: bad } : { ok: true, signer };
}

const pemBody = (pem: string) =>
  Buffer.from(
    pem
      .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
      .replace(/\s+/g, '')
      .trim(),
    'base64',
  );

/** cosign's Rekor bundle annotation: the signed entry timestamp and the entry. */
interface RekorBundle {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

/** The verification material of a keyless cosign layer (`.sig` or `.att`): its certificate and Rekor entry. */
function layerMaterial(annotations: Record<string, string>): { material: object } | { reason: string } {
  const cert = annotations[KeylessAnnotations.Certificate];
  const rekor = annotations[KeylessAnnotations.Bundle];
  if (!cert) return { reason: 'no certificate annotation (a key-signed signature: use --key)' };
  if (!rekor) return { reason: `no Rekor bundle annotation (${KeylessAnnotations.Bundle}) to verify offline` };
  let rb: RekorBundle;
  let kind: { kind: string; apiVersion: string };
  try {
    rb = JSON.parse(rekor) as RekorBundle;
    kind = JSON.parse(Buffer.from(rb.Payload.body, 'base64').toString('utf8')) as typeof kind;
  } catch {
    return { reason: 'the Rekor bundle annotation is not cosign JSON' };
  }
  return {
    material: {
      x509CertificateChain: { certificates: [{ rawBytes: pemBody(cert).toString('base64') }] },
      tlogEntries: [
        {
          logIndex: String(rb.Payload.logIndex),
          logId: { keyId: Buffer.from(rb.Payload.logID, 'hex').toString('base64') },
          kindVersion: { kind: kind.kind, version: kind.apiVersion },
          integratedTime: String(rb.Payload.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rb.SignedEntryTimestamp },
          canonicalizedBody: rb.Payload.body,
        },
      ],
    },
  };
}

/** A sigstore bundle v0.1 from a keyless layer's material and its content (the older spelling of one). */
function layerBundle(annotations: Record<string, string>, content: object): { bundle: Bundle } | { reason: string } {
  const m = layerMaterial(annotations);
  if ('reason' in m) return m;
  try {
    return {
      bundle: bundleFromJSON({
        mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
        verificationMaterial: m.material,
        ...content,
      }),
    };
  } catch (e) {
    return { reason: `the keyless annotations do not form a sigstore bundle: ${(e as Error).message}` };
  }
}

/**
 * Verifies a keyless cosign `.sig` layer: its certificate chains to the trusted root's Fulcio with an SCT, its Rekor
 * bundle is signed by the trusted root's log and records this signature, certificate and payload, and the signature
 * verifies with the certificate's key over the payload; then the certificate's identity must satisfy the policy.
 * The layer is rewritten as the sigstore bundle v0.1 it is the older spelling of.
 */
export function verifyKeylessLayer(
  payload: Buffer,
  annotations: Record<string, string>,
  signatureB64: string,
  p: KeylessPolicy,
): KeylessVerdict {
  const b = layerBundle(annotations, {
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
      signature: signatureB64,
    },
  });
  return 'reason' in b ? { ok: false, reason: b.reason } : verifyEntity(b.bundle, p, payload);
}

/**
 * Verifies a keyless cosign `.att` layer: a DSSE envelope with the `.sig` layer's certificate and Rekor bundle
 * annotations (its log entry an `intoto` 0.0.2 or `dsse` 0.0.1 one); returns the envelope's payload.
 */
export function verifyKeylessEnvelope(
  envelope: { payload: string; payloadType: string; signatures: { sig: string; keyid?: string }[] },
  annotations: Record<string, string>,
  p: KeylessPolicy,
): KeylessVerdict & { payload?: Buffer } {
  if (envelope.signatures?.length !== 1) return { ok: false, reason: 'a keyless envelope has one signature' };
  const sig = envelope.signatures[0]!;
  const b = layerBundle(annotations, {
    dsseEnvelope: {
      payload: envelope.payload,
      payloadType: envelope.payloadType,
      signatures: [{ sig: sig.sig, keyid: sig.keyid ?? '' }],
    },
  });
  if ('reason' in b) return { ok: false, reason: b.reason };
  const v = verifyEntity(b.bundle, p);
  return v.ok ? { ...v, payload: Buffer.from(envelope.payload, 'base64') } : v;
}

/** Verifies a certificate-carrying sigstore bundle (v0.1–v0.3) holding a DSSE envelope; returns its payload. */
export function verifyKeylessBundle(json: unknown, p: KeylessPolicy): KeylessVerdict & { payload?: Buffer } {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (e) {
    return { ok: false, reason: `not a valid sigstore bundle: ${(e as Error).message}` };
  }
  if (bundle.content.$case !== 'dsseEnvelope')
    return { ok: false, reason: 'a message-signature bundle (Kura verifies DSSE bundles, as cosign v3 writes)' };
  const v = verifyEntity(bundle, p);
  return v.ok ? { ...v, payload: Buffer.from(bundle.content.dsseEnvelope.payload) } : v;
}

/** Whether a bundle is keyless (a certificate, not a key hint). */
export function isKeylessBundle(json: { verificationMaterial?: Record<string, unknown> } | undefined): boolean {
  const m = json?.verificationMaterial;
  return !!m && ('certificate' in m || 'x509CertificateChain' in m);
}

/** Splits a PEM file into the DER bodies of its certificates. */
function pemCertificates(pem: string): Buffer[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) =>
    Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'),
  );
}

/**
 * The trust of a policy.json `fulcio` requirement: the Fulcio CA certificates (one chain, leaf-most first, as a PEM
 * bundle lists it) and Rekor's public keys (ECDSA, as containers/image requires); no CT log is named, so none is asked
 * for. Throws a message naming what is wrong.
 */
export function policyTrust(
  caPem: string,
  caWhere: string,
  rekorKeys: { key: KeyObject; where: string }[],
): KeylessPolicy['trust'] {
  const certs = pemCertificates(caPem);
  if (!certs.length) throw new Error(`${caWhere} holds no PEM certificate (the Fulcio CA)`);
  const tlogs = rekorKeys.map(({ key, where }) => {
    if (key.asymmetricKeyType !== 'ec') throw new Error(`${where}: the Rekor public key must be an ECDSA key`);
    const der = key.export({ format: 'der', type: 'spki' });
    return {
      baseUrl: 'https://rekor.policy',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
      logId: { keyId: createHash('sha256').update(der).digest('base64') },
    };
  });
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs,
    certificateAuthorities: [
      {
        subject: { organization: 'policy.json', commonName: 'fulcio' },
        uri: 'https://fulcio.policy',
        certChain: { certificates: certs.map((c) => ({ rawBytes: c.toString('base64') })) },
      },
    ],
    ctlogs: [],
    timestampAuthorities: [],
  };
  try {
    return toTrustMaterial(TrustedRoot.fromJSON(root));
  } catch (e) {
    throw new Error(`${caWhere}: not a usable Fulcio CA: ${(e as Error).message}`);
  }
}
