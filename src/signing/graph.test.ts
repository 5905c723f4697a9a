import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Descriptor } from '../oci/artifact.js';
import { digestOf } from '../oci/digest.js';
import { randomImage, randomIndex } from '../oci/random.js';
import { OciLayout } from '../transports/layout/index.js';
import { attestImage, signImage } from './attach.js';
import { copyGraph, discoverGraph, formatGraph, graphNodes, referrerKind } from './graph.js';
import { cosignTag, LayoutGraphStore, referrersTag } from './store.js';
import { verifyAttestations, verifyImage } from './verify.js';
import { tempDir } from '../test/tempdirs.js';

const layout = () => new LayoutGraphStore(new OciLayout(tempDir('kura-graph-')));
const keys = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

test('tag names: cosign tags and the referrers tag schema', () => {
  const d = digestOf('x');
  assert.equal(cosignTag(d, 'sig'), `sha256-${d.slice(7)}.sig`);
  assert.equal(referrersTag(d), `sha256-${d.slice(7)}`);
});

test('in an OCI layout: sign twice appends layers, verify finds both schemes, a changed signature fails', async () => {
  const store = layout();
  await store.put('v1', await randomImage({ seed: 1 }));
  const k = keys();
  await signImage(store, 'v1', { key: k.privateKey });
  await signImage(store, 'v1', { key: k.privateKey, annotations: { a: 'b' } });
  // The same payload again: ECDSA signatures are randomised, so it is a new, third layer.
  await signImage(store, 'v1', { key: k.privateKey, annotations: { a: 'b' } });
  await signImage(store, 'v1', { key: k.privateKey, referrers: true });
  const digest = (await store.get('v1')).descriptor.digest;
  const sig = await store.get(cosignTag(digest, 'sig'));
  assert.equal((JSON.parse(sig.manifest.toString()) as { layers: unknown[] }).layers.length, 3);
  const v = await verifyImage(store, 'v1', { keys: [k.publicKey] });
  assert.equal(v.verified.length, 4);
  assert.deepEqual(v.verified.map((x) => x.via).sort(), ['referrers', 'tag', 'tag', 'tag']);
  assert.equal((await verifyImage(store, 'v1', { keys: [k.publicKey], annotations: { a: 'b' } })).verified.length, 2);
  assert.equal((await verifyImage(store, 'v1', { keys: [keys().publicKey] })).verified.length, 0);
  // Tamper with the stored signature annotation: the layer no longer verifies.
  const m = JSON.parse(sig.manifest.toString()) as { layers: Descriptor[] };
  m.layers[0]!.annotations!['dev.cosignproject.cosign/signature'] = Buffer.alloc(70, 1).toString('base64');
  const bytes = Buffer.from(JSON.stringify(m));
  const dir = (store.layout as OciLayout).dir;
  writeFileSync(join(dir, 'blobs', 'sha256', digestOf(bytes).slice(7)), bytes);
  await store.put(cosignTag(digest, 'sig'), {
    descriptor: { ...sig.descriptor, digest: digestOf(bytes), size: bytes.length },
    manifest: bytes,
    blobs: sig.blobs,
  });
  const after = await verifyImage(store, 'v1', { keys: [k.publicKey] });
  assert.equal(after.verified.length, 3);
  assert.deepEqual(
    after.rejected.map((r) => r.reason),
    ['no key verifies the signature'],
  );
});

test('attestations of several types, verified and filtered; a statement about another digest is refused', async () => {
  const store = layout();
  await store.put('v1', await randomImage({ seed: 2 }));
  await store.put('v2', await randomImage({ seed: 3 }));
  const k = keys();
  await attestImage(store, 'v1', { key: k.privateKey, type: 'https://slsa.dev/provenance/v0.2', predicate: { a: 1 } });
  await attestImage(store, 'v1', {
    key: k.privateKey,
    type: 'https://cyclonedx.org/bom',
    predicate: { b: 2 },
    referrers: true,
  });
  assert.equal((await verifyAttestations(store, 'v1', { keys: [k.publicKey] })).verified.length, 2);
  const only = await verifyAttestations(store, 'v1', { keys: [k.publicKey], type: 'https://cyclonedx.org/bom' });
  assert.deepEqual(
    only.verified.map((x) => (x.payload as { predicate: unknown }).predicate),
    [{ b: 2 }],
  );
  // v1's .att image copied under v2's cosign tag: valid envelopes, but about another image.
  const v1 = (await store.get('v1')).descriptor.digest;
  const v2 = (await store.get('v2')).descriptor.digest;
  await store.put(cosignTag(v2, 'att'), await store.get(cosignTag(v1, 'att')));
  const wrong = await verifyAttestations(store, 'v2', { keys: [k.publicKey] });
  assert.equal(wrong.verified.length, 0);
  assert.deepEqual(
    wrong.rejected.map((r) => r.reason),
    ['the statement is not about this manifest'],
  );
});

test(
  'graph of a recursively signed index in a layout; copyGraph to another layout reproduces it; a sparse child is ' +
    'marked',
  async () => {
    const a = layout();
    const idx = await randomIndex({ seed: 4 });
    await a.put('v1', idx);
    const k = keys();
    await signImage(a, 'v1', { key: k.privateKey, recursive: true });
    await attestImage(a, 'v1', {
      key: k.privateKey,
      type: 'https://spdx.dev/Document',
      predicate: {},
      referrers: true,
    });
    const g = await discoverGraph(a, await a.get('v1'));
    assert.deepEqual(
      graphNodes(g)
        .map((n) => n.kind)
        .sort(),
      ['attestation', 'image', 'image', 'index', 'signature', 'signature', 'signature'],
    );
    const b = layout();
    const root = await a.get('v1');
    await b.put('v1', root);
    const res = await copyGraph(a, b, root);
    assert.equal(res.copied.length, 4);
    assert.deepEqual(await discoverGraph(b, await b.get('v1')), g);
    assert.match(formatGraph(g, 'x'), /^x@sha256:[0-9a-f]{64} \(index, \d+ B\)\n(├|└)── /);
    // A sparse layout: the index lists a child whose manifest is not there.
    const sparse = layout();
    await sparse.put('v1', idx);
    const child = (JSON.parse(idx.manifest.toString()) as { manifests: Descriptor[] }).manifests[1]!;
    rmSync(join((sparse.layout as OciLayout).dir, 'blobs', 'sha256', child.digest.slice(7)));
    const sg = await discoverGraph(sparse, await sparse.get('v1'));
    assert.deepEqual(
      sg.children.map((c) => c.missing ?? false),
      [false, true],
    );
    assert.match(formatGraph(sg, 'x'), /\] missing\n$/);
  },
);

test('referrer kinds from artifactType and annotations', () => {
  const d = { mediaType: 'x', digest: digestOf('y'), size: 1 };
  assert.equal(
    referrerKind({
      ...d,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      annotations: { 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
    }),
    'signature',
  );
  assert.equal(
    referrerKind({
      ...d,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      annotations: { 'dev.sigstore.bundle.predicateType': 'https://slsa.dev/provenance/v1' },
    }),
    'attestation',
  );
  assert.equal(referrerKind({ ...d, artifactType: 'application/vnd.cncf.notary.signature' }), 'signature');
  assert.equal(referrerKind({ ...d, artifactType: 'application/spdx+json' }), 'sbom');
  assert.equal(referrerKind({ ...d, artifactType: 'application/vnd.cyclonedx+json' }), 'sbom');
  assert.equal(referrerKind({ ...d, artifactType: 'application/vnd.example.thing' }), 'referrer');
});
