import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainIds, historyWithLayers, parseImageConfig } from './config.js';
import type { Digest } from './digest.js';
import { OciError } from './errors.js';

const A = 'sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb' as Digest;
const B = 'sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d' as Digest;
const C = 'sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6' as Digest;

test('parseImageConfig names the missing or wrong field', () => {
  const ok = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [A] } };
  const table: [unknown, RegExp][] = [
    ['{', /not JSON/],
    ['[]', /not a JSON object/],
    [{ ...ok, architecture: undefined }, /architecture is missing/],
    [{ ...ok, os: '' }, /os is missing/],
    [{ ...ok, rootfs: { type: 'layers' } }, /rootfs must be/],
    [{ ...ok, rootfs: { type: 'tar', diff_ids: [] } }, /rootfs must be/],
    [{ ...ok, rootfs: { type: 'layers', diff_ids: ['sha256:abc'] } }, /"sha256:abc", not a digest/],
    [{ ...ok, history: {} }, /history must be an array/],
    [{ ...ok, config: [] }, /config must be an object/],
  ];
  for (const [doc, re] of table) {
    const bytes = typeof doc === 'string' ? doc : JSON.stringify(doc);
    assert.throws(
      () => parseImageConfig(bytes),
      (e: unknown) => e instanceof OciError && e.code === 'MANIFEST_INVALID' && re.test(e.message),
      bytes,
    );
  }
  const c = parseImageConfig(Buffer.from(JSON.stringify({ ...ok, extra: 1 })));
  assert.equal((c as unknown as { extra: number }).extra, 1, 'unknown fields are kept');
});

test('historyWithLayers skips empty_layer entries when numbering layers', () => {
  const c = parseImageConfig(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [A, B] },
      history: [
        { created_by: 'ENV X=1', empty_layer: true },
        { created_by: 'ADD a' },
        { created_by: 'CMD', empty_layer: true },
        { created_by: 'RUN b' },
      ],
    }),
  );
  assert.deepEqual(
    historyWithLayers(c).map((h) => [h.entry.created_by, h.layer]),
    [
      ['ENV X=1', undefined],
      ['ADD a', 0],
      ['CMD', undefined],
      ['RUN b', 1],
    ],
  );
  assert.deepEqual(historyWithLayers({ ...c, history: undefined }), []);
});

test('chainIds match values computed by hand with sha256sum', () => {
  // printf '%s %s' $A $B | sha256sum, then the same with that result and $C.
  assert.deepEqual(chainIds([A, B, C]), [
    A,
    'sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676',
    'sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106',
  ]);
  assert.deepEqual(chainIds([]), []);
});
