import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPublicKey } from './keys.js';
import { verifySimpleSigning } from './verify.js';

const ROOT = fileURLToPath(new URL('../../../shared/fixtures/cosign-upstream/', import.meta.url));
const missing = existsSync(join(ROOT, 'expected-verify.tsv'))
  ? undefined
  : `${ROOT} is missing (the shared cosign fixtures are not in a user's clone)`;

/** c/image's on-disk form of a sigstore attachment: `\0sigstore-json\n` + {mimeType, payload, annotations}. */
function readAttachment(path: string): { mimeType: string; payload: Buffer; signature?: string } {
  const bytes = readFileSync(path);
  const magic = Buffer.from('\0sigstore-json\n');
  assert.ok(bytes.subarray(0, magic.length).equals(magic), `${path} is a sigstore attachment`);
  const j = JSON.parse(bytes.subarray(magic.length).toString('utf8')) as {
    mimeType: string;
    payload: string;
    annotations?: Record<string, string>;
  };
  return {
    mimeType: j.mimeType,
    payload: Buffer.from(j.payload, 'base64'),
    signature: j.annotations?.['dev.cosignproject.cosign/signature'],
  };
}

test('every upstream cosign/skopeo signature gets the verdict expected-verify.tsv states', { skip: missing }, () => {
  const rows = readFileSync(join(ROOT, 'expected-verify.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'));
  assert.ok(rows.length >= 10);
  let valid = 0;
  for (const [
    sigFile,
    manifestFile,
    keyFile,
    expValid,
    expSig,
    expDigest,
    expIdentity,
    meaning,
  ] of rows as string[][]) {
    const base = join(ROOT, 'containers-image');
    const att = readAttachment(join(base, sigFile!));
    const key = loadPublicKey(readFileSync(join(base, keyFile!), 'utf8'), keyFile);
    const v = verifySimpleSigning(att.mimeType, att.payload, att.signature, readFileSync(join(base, manifestFile!)), [
      key,
    ]);
    const what = `${sigFile} (${meaning})`;
    assert.equal(v.valid, expValid === 'true', `${what}: valid; ${v.reason ?? ''}`);
    assert.equal(v.signatureOk, expSig === 'true', `${what}: signature`);
    assert.equal(v.digestOk, expDigest === 'true', `${what}: digest`);
    assert.equal(v.identity ?? 'null', expIdentity, `${what}: identity`);
    if (v.valid) valid++;
  }
  assert.equal(valid, rows.filter((r) => r[3] === 'true').length);
});

test(
  'a fixture signature is refused for the modified manifest and for another key, and accepted for its own',
  { skip: missing },
  () => {
    const base = join(ROOT, 'containers-image', 'fixtures');
    const att = readAttachment(join(base, 'dir-img-cosign-valid', 'signature-1'));
    const key = loadPublicKey(readFileSync(join(base, 'cosign.pub'), 'utf8'));
    const good = readFileSync(join(base, 'dir-img-cosign-valid', 'manifest.json'));
    assert.equal(verifySimpleSigning(att.mimeType, att.payload, att.signature, good, [key]).valid, true);
    const changed = Buffer.concat([good, Buffer.from(' ')]);
    const v = verifySimpleSigning(att.mimeType, att.payload, att.signature, changed, [key]);
    assert.equal(v.valid, false);
    assert.match(v.reason!, /the signature is for sha256:634a8f35.*, the manifest is sha256:/);
    const tampered = Buffer.from(
      att.payload.toString().replace('cosign-signed-single-sample', 'cosign-signed-single-sampl3'),
    );
    assert.equal(
      verifySimpleSigning(att.mimeType, tampered, att.signature, good, [key]).signatureOk,
      false,
      'a changed payload breaks the signature',
    );
  },
);
