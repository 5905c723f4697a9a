/**
 * A private sigstore for tests, on sigstore's own mock services (@sigstore/mock): a Fulcio CA that issues short-lived
 * certificates with SCTs from a CT log, a Rekor log that returns signed entry timestamps and inclusion proofs, and the
 * trusted_root.json naming them. It signs as cosign does keylessly (no Kura signing code), so Kura's keyless verifier
 * is checked against signatures made elsewhere.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { initializeCA, initializeTLog } from '@sigstore/mock';

const ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
const ecKeys = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });

/** The DER element starting at `at`: [start of its contents, end]. */
function derElement(der: Buffer, at: number): [number, number] {
  const first = der[at + 1]!;
  if (first < 0x80) return [at + 2, at + 2 + first];
  const n = first & 0x7f;
  return [at + 2 + n, at + 2 + n + der.readUIntBE(at + 2, n)];
}
const type = 'application/vnd.in-toto+json';
/** A DSSE signature (base64) over an in-toto statement: the signature over its PAE. */
const dsseSign = (statement: Buffer, key: KeyObject) =>
  sign(
    'sha256',
    Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${statement.length} `), statement]),
    key,
  ).toString('base64');
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);

/**
 * A CT log that returns RFC 6962 SCTs for precertificates (the mock's own CT log writes SCTs with an empty signature
 * under the pkijs this project resolves, so it is replaced by this one: node:crypto, no ASN.1 library).
 */
function ctLogOf(keys: { publicKey: KeyObject; privateKey: KeyObject }) {
  const logID = sha256(spki(keys.publicKey));
  return {
    publicKey: spki(keys.publicKey),
    logID,
    async log(certificate: ArrayBuffer, issuerID: ArrayBuffer): Promise<ArrayBuffer> {
      const der = Buffer.from(certificate);
      const [body] = derElement(der, 0);
      const [, tbsEnd] = derElement(der, body);
      const tbs = der.subarray(body, tbsEnd);
      const ts = Buffer.alloc(8);
      ts.writeBigUInt64BE(BigInt(Date.now()));
      const len24 = Buffer.from([tbs.length >> 16, (tbs.length >> 8) & 0xff, tbs.length & 0xff]);
      const signed = Buffer.concat([Buffer.from([0, 0]), ts, u16(1), Buffer.from(issuerID), len24, tbs, u16(0)]);
      const sig = sign('sha256', signed, keys.privateKey);
      const sct = Buffer.concat([Buffer.from([0]), logID, ts, u16(0), Buffer.from([4, 3]), u16(sig.length), sig]);
      const out = Buffer.concat([u16(sct.length), sct]);
      return out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
    },
  };
}

/** One Rekor entry as @sigstore/mock returns it. */
interface Entry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: {
    signedEntryTimestamp: string;
    inclusionProof: { logIndex: number; treeSize: number; checkpoint: string; hashes: string[]; rootHash: string };
  };
}

export interface FakeSigstore {
  /** The trusted_root.json (sigstore protobuf JSON). */
  trustedRoot: Record<string, unknown>;
  /**
   * cosign's keyless `.sig` layer for a payload: the base64 signature and the certificate and Rekor bundle annotations.
   */
  signLayer(
    payload: Buffer,
    identity: string,
    issuer: string,
  ): Promise<{ signature: string; annotations: Record<string, string> }>;
  /** The Fulcio CA certificate (PEM) and the Rekor public key (PEM): what a policy.json `fulcio` requirement names. */
  caPem: string;
  rekorPem: string;
  /**
   * cosign's keyless `.att` layer (cosign v2 attest): a DSSE envelope over `statement` with the certificate and Rekor
   * bundle annotations, its log entry an `intoto` 0.0.2 one.
   */
  attLayer(
    statement: Buffer,
    identity: string,
    issuer: string,
    predicateType: string,
  ): Promise<{ envelope: Buffer; annotations: Record<string, string> }>;
  /** A sigstore bundle v0.3 with a certificate, a DSSE envelope over `statement` and its Rekor entry (cosign v3). */
  dsseBundle(statement: Buffer, identity: string, issuer: string): Promise<Record<string, unknown>>;
}

/** Starts a private Fulcio + CT log + Rekor (all in memory). */
export async function fakeSigstore(): Promise<FakeSigstore> {
  const ctKeys = ecKeys();
  const tlogKeys = ecKeys();
  const ctLog = ctLogOf(ctKeys);
  const ca = await initializeCA(ecKeys(), ctLog);
  const tlog = await initializeTLog('https://rekor.kura.test', tlogKeys);
  const since = { start: '2020-01-01T00:00:00Z' };
  const logKey = (k: KeyObject) => ({
    rawBytes: spki(k).toString('base64'),
    keyDetails: 'PKIX_ECDSA_P256_SHA_256',
    validFor: since,
  });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: 'https://rekor.kura.test',
        hashAlgorithm: 'SHA2_256',
        publicKey: logKey(tlogKeys.publicKey),
        logId: { keyId: sha256(spki(tlogKeys.publicKey)).toString('base64') },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: 'https://fulcio.kura.test',
        certChain: { certificates: [{ rawBytes: ca.rootCertificate.toString('base64') }] },
        validFor: since,
      },
    ],
    ctlogs: [
      {
        baseUrl: 'https://ctfe.kura.test',
        hashAlgorithm: 'SHA2_256',
        publicKey: logKey(ctKeys.publicKey),
        logId: { keyId: ctLog.logID.toString('base64') },
      },
    ],
    timestampAuthorities: [],
  };
  /** An ephemeral key and its Fulcio certificate for this identity and issuer. */
  async function certify(identity: string, issuer: string) {
    const k = ecKeys();
    const der = await ca.issueCertificate({
      publicKey: spki(k.publicKey),
      subjectAltName: identity,
      extensions: [{ oid: ISSUER_V2, value: issuer }],
    });
    return { key: k.privateKey, cert: pem(der), der };
  }
  async function log(entry: object): Promise<Entry> {
    return Object.values(await tlog.log(entry))[0] as unknown as Entry;
  }
  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
  /** The cosign annotations of a keyless layer: certificate, chain and the Rekor bundle of this log entry. */
  function annotationsOf(cert: string, e: Entry): Record<string, string> {
    const rekor = {
      SignedEntryTimestamp: e.verification.signedEntryTimestamp,
      Payload: { body: e.body, integratedTime: e.integratedTime, logIndex: e.logIndex, logID: e.logID },
    };
    return {
      'dev.sigstore.cosign/certificate': cert,
      'dev.sigstore.cosign/chain': pem(ca.rootCertificate),
      'dev.sigstore.cosign/bundle': JSON.stringify(rekor),
    };
  }
  return {
    trustedRoot,
    caPem: pem(ca.rootCertificate),
    rekorPem: tlogKeys.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    async attLayer(statement, identity, issuer, predicateType) {
      const { key, cert } = await certify(identity, issuer);
      const sig = dsseSign(statement, key);
      const envelope = Buffer.from(
        JSON.stringify({ payloadType: type, payload: b64(statement), signatures: [{ keyid: '', sig }] }),
      );
      // Rekor's intoto 0.0.2 double-base64-encodes the envelope's payload and signature.
      const e = await log({
        apiVersion: '0.0.2',
        kind: 'intoto',
        spec: {
          content: {
            envelope: {
              payloadType: type,
              payload: b64(b64(statement)),
              signatures: [{ sig: b64(sig), publicKey: b64(cert) }],
            },
            hash: { algorithm: 'sha256', value: sha256(envelope).toString('hex') },
            payloadHash: { algorithm: 'sha256', value: sha256(statement).toString('hex') },
          },
        },
      });
      return {
        envelope,
        annotations: { 'dev.cosignproject.cosign/signature': '', predicateType, ...annotationsOf(cert, e) },
      };
    },
    async signLayer(payload, identity, issuer) {
      const { key, cert } = await certify(identity, issuer);
      const sig = sign('sha256', payload, key).toString('base64');
      const e = await log({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: sha256(payload).toString('hex') } },
          signature: { content: sig, publicKey: { content: Buffer.from(cert).toString('base64') } },
        },
      });
      return {
        signature: sig,
        annotations: { 'dev.cosignproject.cosign/signature': sig, ...annotationsOf(cert, e) },
      };
    },
    async dsseBundle(statement, identity, issuer) {
      const { key, cert, der } = await certify(identity, issuer);
      const sig = dsseSign(statement, key);
      const envelope = { payload: statement.toString('base64'), payloadType: type, signatures: [{ sig, keyid: '' }] };
      const e = await log({
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          envelopeHash: { algorithm: 'sha256', value: sha256(Buffer.from(JSON.stringify(envelope))).toString('hex') },
          payloadHash: { algorithm: 'sha256', value: sha256(statement).toString('hex') },
          signatures: [{ signature: sig, verifier: Buffer.from(cert).toString('base64') }],
        },
      });
      const p = e.verification.inclusionProof;
      return {
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: {
          certificate: { rawBytes: der.toString('base64') },
          tlogEntries: [
            {
              logIndex: String(e.logIndex),
              logId: { keyId: Buffer.from(e.logID, 'hex').toString('base64') },
              kindVersion: { kind: 'dsse', version: '0.0.1' },
              integratedTime: String(e.integratedTime),
              inclusionPromise: { signedEntryTimestamp: e.verification.signedEntryTimestamp },
              inclusionProof: {
                logIndex: String(p.logIndex),
                rootHash: Buffer.from(p.rootHash, 'hex').toString('base64'),
                treeSize: String(p.treeSize),
                hashes: p.hashes,
                checkpoint: { envelope: p.checkpoint },
              },
              canonicalizedBody: e.body,
            },
          ],
        },
        dsseEnvelope: envelope,
      };
    },
  };
}
