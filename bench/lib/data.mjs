// Deterministic test content: every server gets byte-identical blobs and manifests.
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
// The seeded PRNG of the library's test images (the benchmarks run after `npm run build`).
import { prng } from '../../dist/oci/random.js';

const CHUNK = 1 << 20;
const ZERO = Buffer.alloc(CHUNK);

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

/** The Accept headers docker sends for a manifest GET (one header line each). */
export const DOCKER_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
];

function cipherFor(seed) {
  const k = createHash('sha256').update(`ocikura-bench:${seed}`).digest();
  return createCipheriv('aes-128-ctr', k.subarray(0, 16), k.subarray(16, 32));
}

function* chunks(seed, size) {
  const c = cipherFor(seed);
  for (let left = size; left > 0; left -= CHUNK) {
    const n = Math.min(CHUNK, left);
    yield c.update(n === CHUNK ? ZERO : ZERO.subarray(0, n));
  }
}

/** Pseudo-random bytes (AES-128-CTR over zeros, key derived from seed) as a stream, never all in memory. */
export function randomStream(seed, size) {
  return Readable.from(chunks(seed, size), { objectMode: false, highWaterMark: 4 });
}

/** The same bytes as a Buffer (for small blobs). */
export function randomBytes(seed, size) {
  return Buffer.concat([...chunks(seed, size)]);
}

/** sha256 of randomStream(seed, size), computed by streaming. */
export function streamDigest(seed, size) {
  const h = createHash('sha256');
  for (const c of chunks(seed, size)) h.update(c);
  return 'sha256:' + h.digest('hex');
}

export function digestOf(buf) {
  return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}

/** A blob descriptor with its bytes. */
export function blob(buf, mediaType = MT.ociLayer) {
  return { buf, size: buf.length, digest: digestOf(buf), mediaType };
}

/** An image config blob naming its layers; `label` makes each config (and so each manifest) distinct. */
export function configBlob(layers, label) {
  const cfg = {
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'org.ocikura.bench': String(label) } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    history: layers.map(() => ({ created_by: 'ocikura bench' })),
  };
  return blob(Buffer.from(JSON.stringify(cfg)), MT.ociConfig);
}

export function manifestFor(config, layers) {
  const m = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const buf = Buffer.from(JSON.stringify(m));
  return { buf, digest: digestOf(buf), mediaType: MT.ociManifest };
}

/**
 * The small-images set: `count` images of 5 layers (10-200 KiB), the first layer shared by all.
 */
export function smallImages(count) {
  const rnd = prng(42);
  const size = () => Math.floor((10 + rnd() * 190) * 1024);
  const base = blob(randomBytes('base-layer', 150 * 1024));
  const images = [];
  for (let i = 0; i < count; i++) {
    const layers = [base];
    for (let j = 1; j < 5; j++) layers.push(blob(randomBytes(`img-${i}-layer-${j}`, size())));
    const config = configBlob(layers, `image-${i}`);
    images.push({ tag: `img-${String(i).padStart(4, '0')}`, layers, config, manifest: manifestFor(config, layers) });
  }
  return images;
}

/** A tiny one-layer image (used for tags, manifest GET). */
export function tinyImage(label, layerSize = 1024) {
  const layer = blob(randomBytes(`tiny-${label}`, layerSize));
  const config = configBlob([layer], label);
  return { layers: [layer], config, manifest: manifestFor(config, [layer]) };
}
