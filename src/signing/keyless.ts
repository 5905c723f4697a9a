/** Keyless (Fulcio certificate + Rekor entry) verification, offline against a trusted root, on sigstore's libraries. */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial, type Signer, type TrustMaterial } from '@sigstore/verify';

/** cosign's annotations on a keyless `.sig` layer. */
export const KeylessAnnotations = {
  Certificate: 'dev.sigstore.cosign/certificate',
  Chain: 'dev.sigstore.cosign/chain',
  Bundle: 'dev.sigstore.cosign/bundle',
} as const;

/** Who must have signed: cosign's `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`. */
export interface KeylessPolicy {
  trust: TrustMaterial;
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

function verifyEntity(bundle: Bundle, p: KeylessPolicy, artifact?: Buffer): KeylessVerdict {
  let signer: Signer;
  try {
    signer = new Verifier(p.trust).verify(toSignedEntity(bundle, artifact));
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
  const cert = annotations[KeylessAnnotations.Certificate];
  const rekor = annotations[KeylessAnnotations.Bundle];
  if (!cert) return { ok: false, reason: 'no certificate annotation (a key-signed signature: use --key)' };
  if (!rekor)
    return { ok: false, reason: `no Rekor bundle annotation (${KeylessAnnotations.Bundle}) to verify offline` };
  let rb: RekorBundle;
  let kind: { kind: string; apiVersion: string };
  try {
    rb = JSON.parse(rekor) as RekorBundle;
    kind = JSON.parse(Buffer.from(rb.Payload.body, 'base64').toString('utf8')) as typeof kind;
  } catch {
    return { ok: false, reason: 'the Rekor bundle annotation is not cosign JSON' };
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON({
      mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
      verificationMaterial: {
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
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
        signature: signatureB64,
      },
    });
  } catch (e) {
    return { ok: false, reason: `the keyless annotations do not form a sigstore bundle: ${(e as Error).message}` };
  }
  return verifyEntity(bundle, p, payload);
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
