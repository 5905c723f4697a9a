import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  decryptPrivateKey,
  generateKeyPair,
  KeyError,
  loadPrivateKey,
  loadPublicKey,
  parsePem,
  publicPem,
} from './keys.js';
import { selfSignedCert } from '../test/distribution.js';
import { tempDir } from '../test/tempdirs.js';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/cosign-upstream/cosign-keys/', import.meta.url));
const fixturesMissing = existsSync(join(FIXTURES, 'expected.tsv'))
  ? undefined
  : `${FIXTURES} is missing (the shared cosign fixtures are not in a user's clone)`;
const pass = (p: string) => async () => p;

test(
  'cosign-written keys load or fail exactly as cosign-keys/expected.tsv says',
  { skip: fixturesMissing },
  async () => {
    const rows = readFileSync(join(FIXTURES, 'expected.tsv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'));
    assert.equal(rows.length, 3);
    for (const [file, label, passphrase, , expected] of rows as string[][]) {
      const pem = readFileSync(join(FIXTURES, file!), 'utf8');
      assert.equal(parsePem(pem)[0]!.label, label);
      if (expected!.startsWith('loads')) {
        const k = await loadPrivateKey(pem, pass(passphrase!), file);
        assert.equal(k.asymmetricKeyDetails?.namedCurve, 'prime256v1', file);
        // The key works: what it signs, its public half verifies.
        const sig = sign('sha256', Buffer.from('x'), k);
        assert.ok(verify('sha256', Buffer.from('x'), loadPublicKey(publicPem(k)), sig));
      } else {
        await assert.rejects(loadPrivateKey(pem, pass(passphrase!), file), (e: Error) => {
          assert.ok(e instanceof KeyError);
          assert.match(e.message, /not PKCS#8 \(a SEC1 EC key inside cosign's encryption, which cosign refuses too\)/);
          return true;
        });
        // cosign refuses it after decrypting: the passphrase is right, the payload is SEC1 DER.
        const der = await decryptPrivateKey(parsePem(pem)[0]!.der, passphrase!, file!);
        assert.ok(createPrivateKey({ key: der, format: 'der', type: 'sec1' }));
      }
      await assert.rejects(
        loadPrivateKey(pem, pass('wrong'), file),
        /wrong passphrase \(decryption failed\); set COSIGN_PASSWORD or KURA_PASSWORD/,
      );
    }
  },
);

test(
  'generated keys round-trip: encrypted SIGSTORE PEM with the passphrase (empty too), public PEM ' + 'matches',
  async () => {
    for (const pw of ['s3cret', '']) {
      const pair = await generateKeyPair(pw);
      assert.match(
        pair.privatePem,
        /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n$/,
      );
      const k = await loadPrivateKey(pair.privatePem, pass(pw));
      const sig = sign('sha256', Buffer.from('payload'), k);
      assert.ok(verify('sha256', Buffer.from('payload'), loadPublicKey(pair.publicPem), sig));
      await assert.rejects(loadPrivateKey(pair.privatePem, pass(pw + 'x')), KeyError);
    }
  },
);

test(
  'plain PKCS#8, SEC1 and PKCS#1 keys load; an encrypted key never asks for a passphrase it does not ' + 'need',
  async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const never = async () => assert.fail('no passphrase is needed');
    assert.equal(
      (await loadPrivateKey(ec.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), never))
        .asymmetricKeyDetails?.namedCurve,
      'secp384r1',
    );
    assert.equal(
      (await loadPrivateKey(ec.privateKey.export({ format: 'pem', type: 'sec1' }).toString(), never)).asymmetricKeyType,
      'ec',
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.equal(
      (await loadPrivateKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(), never))
        .asymmetricKeyType,
      'rsa',
    );
  },
);

test('unsupported keys and junk get one clear KeyError', async () => {
  const x = generateKeyPairSync('x25519');
  await assert.rejects(
    loadPrivateKey(x.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), pass('')),
    /unsupported key type x25519; use an ECDSA \(P-256\/384\/521\), RSA or Ed25519 key/,
  );
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  assert.throws(
    () => loadPublicKey(k1.publicKey.export({ format: 'pem', type: 'spki' }).toString()),
    /unsupported elliptic curve secp256k1/,
  );
  await assert.rejects(loadPrivateKey('hello', pass('')), /holds no PEM private key/);
  assert.throws(
    () => loadPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'k.pub'),
    /^KeyError: k\.pub: cannot read the PUBLIC KEY/,
  );
  assert.throws(
    () =>
      loadPublicKey(
        '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n',
        'c.key',
      ),
    /encrypted private key; verify with its public key/,
  );
});

test(
  'an X.509 certificate verifies with its public key',
  { skip: existsSync('/usr/bin/openssl') ? undefined : 'openssl is missing' },
  async () => {
    const dir = tempDir('kura-cert-');
    const made = selfSignedCert(dir, 'kura-test');
    const key = await loadPrivateKey(readFileSync(made.key, 'utf8'), pass(''));
    const sig = sign('sha256', Buffer.from('m'), key);
    assert.ok(verify('sha256', Buffer.from('m'), loadPublicKey(readFileSync(made.cert, 'utf8')), sig));
  },
);
