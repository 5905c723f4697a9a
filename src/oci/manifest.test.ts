// The one manifest parser: each kind, each descriptor error, the error format, the mediaType decision.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestOf } from './digest.js';
import { OciError } from './errors.js';
import { manifestInfo, parseManifestInfo } from './manifest-info.js';
import {
  checkDescriptor,
  parseImageManifest,
  parseIndexManifest,
  parseManifest,
  manifestChildren,
} from './manifest.js';
import { MediaTypes } from './mediatypes.js';

const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const desc = (mediaType: string, body: string, extra: object = {}) => ({
  mediaType,
  digest: digestOf(Buffer.from(body)),
  size: body.length,
  ...extra,
});
const config = desc(MediaTypes.OciConfig, '{}');
const layer = desc(MediaTypes.OciLayerGzip, 'layer');
const foreign = desc(MediaTypes.DockerForeignLayer, 'foreign', { urls: ['https://example.com/l'] });
const image = { schemaVersion: 2, mediaType: MediaTypes.OciManifest, config, layers: [layer, foreign] };
const child = desc(MediaTypes.OciManifest, 'child', { platform: { os: 'linux', architecture: 'amd64' } });
const index = { schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: [child] };

/** The one error format: MANIFEST_INVALID, message `<where>: <why>`, the same text as detail.reason. */
function invalid(where: string, why: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof OciError, String(e));
    assert.equal(e.code, 'MANIFEST_INVALID');
    assert.ok(e.message.startsWith(`${where}: `), `"${e.message}" does not start with "${where}: "`);
    assert.match(e.message.slice(where.length + 2), why);
    assert.deepEqual(e.detail, { reason: e.message });
    return true;
  };
}

test('each kind: OCI and Docker image manifests, OCI index and Docker list, legacy schema 1', () => {
  const oci = parseManifest(bytes(image), MediaTypes.OciManifest);
  assert.equal(oci.kind, 'image');
  assert.equal(oci.mediaType, MediaTypes.OciManifest);
  assert.deepEqual(manifestChildren(oci), [config, layer], 'foreign layers are not children');

  const docker = {
    ...image,
    mediaType: MediaTypes.DockerManifest,
    config: { ...config, mediaType: MediaTypes.DockerConfig },
  };
  const d = parseManifest(bytes(docker), undefined);
  assert.deepEqual(
    [d.kind, d.mediaType],
    ['image', MediaTypes.DockerManifest],
    'the mediaType field, when nothing is given',
  );

  const idx = parseManifest(bytes(index), MediaTypes.OciIndex);
  assert.equal(idx.kind, 'index');
  assert.deepEqual(manifestChildren(idx), [child]);
  const list = parseManifest(
    bytes({ ...index, mediaType: MediaTypes.DockerManifestList }),
    `${MediaTypes.DockerManifestList}; charset=utf-8`,
  );
  assert.deepEqual(
    [list.kind, list.mediaType],
    ['index', MediaTypes.DockerManifestList],
    'Content-Type parameters are dropped',
  );

  const s1 = parseManifest(
    bytes({ schemaVersion: 1, fsLayers: [{ blobSum: layer.digest }, { blobSum: layer.digest }] }),
    undefined,
  );
  assert.deepEqual(s1, {
    kind: 'schema1',
    mediaType: MediaTypes.DockerSchema1Signed,
    blobs: [layer.digest, layer.digest],
  });
  assert.deepEqual(manifestChildren(s1), []);

  // No media type anywhere: guessed from the shape; an unknown media type with `manifests` is an index.
  assert.equal(parseManifest(bytes({ schemaVersion: 2, manifests: [] }), undefined).mediaType, MediaTypes.OciIndex);
  assert.equal(
    parseManifest(bytes({ schemaVersion: 2, config, layers: [] }), undefined).mediaType,
    MediaTypes.OciManifest,
  );
  assert.equal(parseManifest(bytes({ manifests: [] }), 'application/x-custom').kind, 'index');
  // An artifact of an unknown media type needs no schemaVersion; a missing `layers` reads as none.
  const art = parseManifest(bytes({ config }), 'application/x-custom');
  assert.ok(art.kind === 'image' && art.manifest.layers.length === 0);
});

test('the narrowing helpers refuse the other kinds', () => {
  assert.throws(
    () => parseImageManifest(bytes(index), MediaTypes.OciIndex, 'img'),
    invalid('img', /is an index, not an image manifest/),
  );
  assert.throws(
    () => parseImageManifest(bytes({ schemaVersion: 1, fsLayers: [] }), undefined, 'img'),
    invalid('img', /schema 1/),
  );
  assert.throws(
    () => parseIndexManifest(bytes(image), MediaTypes.OciManifest, 'idx'),
    invalid('idx', /needs a "manifests" array/),
  );
  assert.equal(parseImageManifest(bytes(image)).config.digest, config.digest);
  assert.equal(parseIndexManifest(bytes(index)).manifests.length, 1);
});

test('document errors, each in the one format', () => {
  const cases: [unknown, string | undefined, string, RegExp][] = [
    ['{"schemaVersion": 2, ', undefined, 'm', /^not JSON/],
    ['[]', undefined, 'm', /^not a JSON object$/],
    [{ ...image, mediaType: 7 }, undefined, 'm', /^mediaType must be a string$/],
    [
      image,
      MediaTypes.DockerManifest,
      'm',
      /its mediaType ".*oci.image.manifest.*" differs from the given ".*docker.*"/,
    ],
    [{ ...image, schemaVersion: 1 }, undefined, 'm', /^schemaVersion must be 2, not 1$/],
    [{ ...image, artifactType: 1 }, undefined, 'm', /^artifactType must be a string$/],
    [{ ...image, annotations: { a: 1 } }, undefined, 'm annotations', /^"a" must be a string$/],
    [{ ...image, layers: {} }, undefined, 'm', /^"layers" must be an array$/],
    [{ schemaVersion: 2, layers: [] }, MediaTypes.OciManifest, 'm config', /^is not a descriptor object$/],
    [{ ...index, manifests: {} }, undefined, 'm', /^an index needs a "manifests" array$/],
    [{ ...image, subject: { digest: 'x' } }, undefined, 'm subject', /^mediaType is missing$/],
    [
      { schemaVersion: 1, fsLayers: [{ blobSum: 'md5:x' }] },
      undefined,
      'm fsLayers[0].blobSum',
      /^is not a valid digest$/,
    ],
  ];
  for (const [doc, mt, where, why] of cases)
    assert.throws(() => parseManifest(bytes(doc), mt, { what: 'm' }), invalid(where, why), JSON.stringify(doc));
});

test('one descriptor check, naming where the descriptor stands', () => {
  const bad: [unknown, RegExp][] = [
    [null, /^is not a descriptor object$/],
    [[], /^is not a descriptor object$/],
    [{ ...layer, mediaType: undefined }, /^mediaType is missing$/],
    [{ ...layer, mediaType: '' }, /^mediaType is missing$/],
    [{ ...layer, digest: 'sha256:zz' }, /^digest "sha256:zz" is not a valid digest$/],
    [{ ...layer, size: -1 }, /^size must be a non-negative integer$/],
    [{ ...layer, size: 1.5 }, /^size must be a non-negative integer$/],
    [{ ...layer, size: '3' }, /^size must be a non-negative integer$/],
    [{ ...layer, urls: 'https://x' }, /^urls must be an array of strings$/],
    [{ ...layer, urls: [1] }, /^urls must be an array of strings$/],
    [{ ...layer, artifactType: 1 }, /^artifactType must be a string$/],
    [{ ...layer, platform: { os: 'linux' } }, /^platform needs os and architecture strings$/],
  ];
  for (const [d, why] of bad) {
    assert.throws(() => checkDescriptor(d, 'x layers[1]'), invalid('x layers[1]', why), JSON.stringify(d));
    assert.throws(
      () => parseManifest(bytes({ ...image, layers: [layer, d] }), undefined, { what: 'x' }),
      invalid('x layers[1]', why),
    );
  }
  assert.throws(
    () => checkDescriptor({ ...layer, annotations: { k: 2 } }, 'd'),
    invalid('d.annotations', /^"k" must be a string$/),
  );
  assert.throws(
    () => parseManifest(bytes({ ...index, manifests: [{ ...child, size: -2 }] }), undefined),
    invalid('manifest manifests[0]', /size/),
  );
  assert.deepEqual(checkDescriptor(child, 'ok'), child);
});

test('mediaType decision: a descriptor without mediaType is refused by readers, stored by the registry', () => {
  const noType = {
    ...image,
    config: { digest: config.digest, size: config.size },
    layers: [{ digest: layer.digest, size: layer.size }],
  };
  assert.throws(
    () => parseManifest(bytes(noType), MediaTypes.OciManifest),
    invalid('manifest config', /^mediaType is missing$/),
  );
  const lenient = parseManifest(bytes(noType), MediaTypes.OciManifest, { lenientMediaType: true });
  assert.equal(lenient.kind, 'image');
  // The registry's projection: the blobs are still required; no config media type means no artifact type.
  const info = parseManifestInfo(bytes(noType), MediaTypes.OciManifest);
  assert.deepEqual(info.blobs, [config.digest, layer.digest]);
  assert.equal(info.artifactType, null);
  // A mediaType that is there must still be a string.
  assert.throws(
    () => parseManifestInfo(bytes({ ...noType, config: { ...config, mediaType: 5 } }), undefined),
    invalid('manifest config', /mediaType/),
  );
});

test('the registry projection: blobs, children, subject, artifact type, annotations and declared sizes', () => {
  const subject = desc(MediaTypes.OciManifest, 'subject');
  const info = manifestInfo(
    parseManifest(bytes({ ...image, subject, annotations: { a: 'b' }, layers: [layer, layer, foreign] }), undefined),
  );
  assert.deepEqual(info, {
    mediaType: MediaTypes.OciManifest,
    blobs: [config.digest, layer.digest],
    manifests: [],
    subject: subject.digest,
    artifactType: MediaTypes.OciConfig,
    annotations: { a: 'b' },
    declared: [
      { digest: config.digest, size: config.size, where: 'config', kind: 'blob' },
      { digest: layer.digest, size: layer.size, where: 'layers[0]', kind: 'blob' },
      { digest: layer.digest, size: layer.size, where: 'layers[1]', kind: 'blob' },
    ],
  });
  const idx = parseManifestInfo(
    bytes({ ...index, artifactType: 'application/x-a', manifests: [child, child] }),
    undefined,
  );
  assert.deepEqual(
    [idx.blobs, idx.manifests, idx.artifactType, idx.subject, idx.annotations],
    [[], [child.digest], 'application/x-a', null, null],
  );
  assert.deepEqual(
    idx.declared.map((d) => d.where),
    ['manifests[0]', 'manifests[1]'],
  );
  const s1 = parseManifestInfo(
    bytes({ schemaVersion: 1, fsLayers: [{ blobSum: layer.digest }, { blobSum: layer.digest }] }),
    '',
  );
  assert.deepEqual(s1, {
    mediaType: MediaTypes.DockerSchema1Signed,
    blobs: [layer.digest],
    manifests: [],
    subject: null,
    artifactType: null,
    annotations: null,
    declared: [],
  });
  assert.equal(
    parseManifestInfo(bytes({ ...image, subject: null, annotations: null }), undefined).subject,
    null,
    'null subject and annotations are none',
  );
});
