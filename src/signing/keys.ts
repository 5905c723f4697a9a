import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  scrypt,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import nacl from 'tweetnacl';

/** A key that cannot be used: wrong passphrase, unknown format or type. The message names the fix. */
export class KeyError extends Error {
  override name = 'KeyError';
}

/** The PEM label cosign writes today, and the one older cosign wrote; both are read. */
export const SIGSTORE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';

/** cosign's scrypt parameters (go-securesystemslib `encrypted`: N=2^15, r=8, p=1). */
const SCRYPT = { N: 32768, r: 8, p: 1 };

interface EncryptedKeyJson {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

/** A PEM block: its label and DER body. */
export interface PemBlock {
  label: string;
  der: Buffer;
}

/** Every PEM block of a text, in order. */
export function parsePem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (const m of text.matchAll(re))
    out.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') });
  return out;
}

/** A PEM block with lines of 64 characters, as Go's encoding/pem writes it. */
export function toPem(label: string, der: Buffer): string {
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function scryptKey(password: string, salt: Buffer, p: { N: number; r: number; p: number }): Promise<Buffer> {
  if (
    !Number.isSafeInteger(p.N) ||
    p.N < 2 ||
    p.N > 1 << 20 ||
    (p.N & (p.N - 1)) !== 0 ||
    p.r < 1 ||
    p.r > 32 ||
    p.p < 1 ||
    p.p > 16
  ) {
    throw new KeyError(`unsupported scrypt parameters N=${p.N} r=${p.r} p=${p.p}`);
  }
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + (1 << 20) }, (e, k) =>
      e ? reject(e) : resolve(k),
    ),
  );
}

/** Encrypts a PKCS#8 DER key the way cosign does: scrypt + NaCl secretbox, JSON, PEM. */
export async function encryptPrivateKey(pkcs8: Buffer, password: string, label = SIGSTORE_KEY_LABEL): Promise<string> {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = await scryptKey(password, salt, SCRYPT);
  const sealed = nacl.secretbox(new Uint8Array(pkcs8), new Uint8Array(nonce), new Uint8Array(key));
  const doc: EncryptedKeyJson = {
    kdf: { name: 'scrypt', params: SCRYPT, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(sealed).toString('base64'),
  };
  return toPem(label, Buffer.from(JSON.stringify(doc)));
}

/** Opens cosign's encrypted key body (the PEM's JSON): the plaintext DER, or a KeyError. */
export async function decryptPrivateKey(body: Buffer, password: string, where: string): Promise<Buffer> {
  let doc: EncryptedKeyJson;
  try {
    doc = JSON.parse(body.toString('utf8')) as EncryptedKeyJson;
  } catch {
    throw new KeyError(`${where}: the encrypted key is not cosign's JSON; re-create it with "kura key generate"`);
  }
  if (doc?.kdf?.name !== 'scrypt' || doc?.cipher?.name !== 'nacl/secretbox') {
    throw new KeyError(
      `${where}: unsupported key encryption (${doc?.kdf?.name}/${doc?.cipher?.name}); Kura reads cosign's scrypt + ` +
        `nacl/secretbox keys`,
    );
  }
  const key = await scryptKey(password, Buffer.from(doc.kdf.salt, 'base64'), doc.kdf.params);
  const opened = nacl.secretbox.open(
    new Uint8Array(Buffer.from(doc.ciphertext, 'base64')),
    new Uint8Array(Buffer.from(doc.cipher.nonce, 'base64')),
    new Uint8Array(key),
  );
  if (!opened)
    throw new KeyError(
      `${where}: wrong passphrase (decryption failed); set COSIGN_PASSWORD or KURA_PASSWORD to the key's passphrase`,
    );
  return Buffer.from(opened);
}

/** Refuses key types Kura does not sign or verify with. */
export function checkKeyType(k: KeyObject, where: string): KeyObject {
  const t = k.asymmetricKeyType;
  if (t === 'ec') {
    const curve = k.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'secp384r1' || curve === 'secp521r1') return k;
    throw new KeyError(`${where}: unsupported elliptic curve ${curve}; use P-256, P-384 or P-521`);
  }
  if (t === 'rsa' || t === 'ed25519') return k;
  throw new KeyError(`${where}: unsupported key type ${t}; use an ECDSA (P-256/384/521), RSA or Ed25519 key`);
}

/** A new ECDSA P-256 key pair, as cosign's `generate-key-pair` makes it: encrypted private PEM and public PEM. */
export async function generateKeyPair(
  password: string,
): Promise<{ privatePem: string; publicPem: string; privateKey: KeyObject; publicKey: KeyObject }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    privatePem: await encryptPrivateKey(pkcs8, password),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    privateKey,
    publicKey,
  };
}

/** Where a passphrase comes from when a key is encrypted (env, a prompt); called at most once. */
export type PasswordSource = () => Promise<string>;

/**
 * A private key for signing from PEM text: cosign's encrypted keys (both labels; the plaintext must
 * be PKCS#8, as cosign requires), unencrypted PKCS#8 (`PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`),
 * and PKCS#1 `RSA PRIVATE KEY`.
 */
export async function loadPrivateKey(pem: string, password: PasswordSource, where = 'the key'): Promise<KeyObject> {
  const blocks = parsePem(pem);
  const block = blocks.find((b) => /PRIVATE KEY$/.test(b.label));
  if (!block)
    throw new KeyError(
      `${where} holds no PEM private key; give a cosign key (kura key generate) or a PKCS#8/SEC1 PEM key`,
    );
  if (block.label === SIGSTORE_KEY_LABEL || block.label === COSIGN_KEY_LABEL) {
    const der = await decryptPrivateKey(block.der, await password(), where);
    try {
      return checkKeyType(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), where);
    } catch (e) {
      if (e instanceof KeyError) throw e;
      throw new KeyError(
        `${where}: the decrypted key is not PKCS#8 (a SEC1 EC key inside cosign's encryption, which cosign refuses ` +
          `too); re-create it with "kura key generate"`,
      );
    }
  }
  if (block.label.startsWith('ENCRYPTED'))
    throw new KeyError(
      `${where}: PEM "${block.label}" is not supported; decrypt it (openssl pkey) or use a cosign key`,
    );
  const type =
    block.label === 'PRIVATE KEY'
      ? 'pkcs8'
      : block.label === 'EC PRIVATE KEY'
        ? 'sec1'
        : block.label === 'RSA PRIVATE KEY'
          ? 'pkcs1'
          : undefined;
  if (!type) throw new KeyError(`${where}: PEM "${block.label}" is not a supported private key`);
  try {
    return checkKeyType(createPrivateKey({ key: block.der, format: 'der', type }), where);
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError(`${where}: cannot read the ${block.label}: ${(e as Error).message}`);
  }
}

/**
 * A public key for verifying from PEM text: `PUBLIC KEY` (SPKI), an X.509 `CERTIFICATE` (its key), or
 * an unencrypted private key (its public half).
 */
export function loadPublicKey(pem: string, where = 'the key'): KeyObject {
  const blocks = parsePem(pem);
  const block = blocks[0];
  if (!block)
    throw new KeyError(`${where} holds no PEM block; give a PEM public key (cosign.pub) or an X.509 certificate`);
  try {
    if (block.label === 'PUBLIC KEY')
      return checkKeyType(createPublicKey({ key: block.der, format: 'der', type: 'spki' }), where);
    if (block.label === 'CERTIFICATE') return checkKeyType(new X509Certificate(block.der).publicKey, where);
    if (block.label === 'PRIVATE KEY' || block.label === 'EC PRIVATE KEY' || block.label === 'RSA PRIVATE KEY')
      return checkKeyType(createPublicKey(pem), where);
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError(`${where}: cannot read the ${block.label}: ${(e as Error).message}`);
  }
  if (block.label.includes('ENCRYPTED'))
    throw new KeyError(`${where} is an encrypted private key; verify with its public key (NAME.pub)`);
  throw new KeyError(`${where}: PEM "${block.label}" is not a public key or certificate`);
}

/** The public half of a private key as SPKI PEM (what `NAME.pub` holds). */
export function publicPem(k: KeyObject): string {
  return createPublicKey(k).export({ format: 'pem', type: 'spki' }).toString();
}
