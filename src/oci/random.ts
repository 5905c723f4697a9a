import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Artifact, BlobReader, Descriptor, Platform } from './artifact.js';
import { digestOf, type Digest } from './digest.js';
import { OciError } from './errors.js';
import { lazy } from './lazy.js';
import { MediaTypes, layerMediaType } from './mediatypes.js';

const require = createRequire(import.meta.url);
const zlib = lazy(() => require('node:zlib') as typeof import('node:zlib'));
const tarStream = lazy(() => require('tar-stream') as typeof import('tar-stream'));

/** Blobs held in memory by digest: the test fixtures' and the memory transport's store. */
export class MemoryBlobs implements BlobReader {
  readonly map = new Map<Digest, Buffer>();

  put(data: Buffer): Digest {
    const d = digestOf(data);
    this.map.set(d, data);
    return d;
  }

  async open(d: Descriptor): Promise<Readable> {
    const b = this.map.get(d.digest);
    if (!b) throw new OciError('BLOB_UNKNOWN', `no blob ${d.digest} in memory`);
    return Readable.from([b]);
  }
}

/** A seeded PRNG (mulberry32): the same seed gives the same images, byte for byte. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE((rnd() * 4294967296) >>> 0, i > n - 4 ? n - 4 : i);
  return b;
}

export interface TarFile {
  name: string;
  data?: Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  mode?: number;
}

/** A tar archive in memory, with fixed mtimes so the bytes are reproducible. */
export async function makeTar(files: TarFile[]): Promise<Buffer> {
  const p = tarStream().pack();
  for (const f of files) {
    const type = f.type ?? 'file';
    const header = {
      name: f.name,
      type,
      mode: f.mode ?? (type === 'directory' ? 0o755 : 0o644),
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(f.linkname ? { linkname: f.linkname } : {}),
    };
    if (type === 'file') p.entry({ ...header, size: f.data?.length ?? 0 }, f.data ?? Buffer.alloc(0));
    else p.entry(header);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export interface RandomImageOptions {
  seed?: number;
  /** Number of layers (default 2). */
  layers?: number;
  /** Bytes of random file content per layer (default 1024). */
  layerSize?: number;
  /** OCI or Docker schema2 media types (default oci). */
  format?: 'oci' | 'docker';
  platform?: Platform;
  /** gzip (default) or uncompressed layers. */
  compression?: 'gzip' | 'none';
  labels?: Record<string, string>;
  /** Layers given as files instead of random ones. */
  files?: TarFile[][];
  /** Blobs go here (a fresh store by default); share one to build indexes. */
  blobs?: MemoryBlobs;
}

export interface MemoryArtifact extends Artifact {
  blobs: MemoryBlobs;
}

/** A valid image with random layer content: real tars, real diff_ids, history with an empty layer. */
export async function randomImage(opts: RandomImageOptions = {}): Promise<MemoryArtifact> {
  const rnd = prng(opts.seed ?? 1);
  const blobs = opts.blobs ?? new MemoryBlobs();
  const docker = opts.format === 'docker';
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const n = opts.files?.length ?? opts.layers ?? 2;
  const layers: Descriptor[] = [];
  const diffIds: Digest[] = [];
  for (let i = 0; i < n; i++) {
    const files = opts.files?.[i] ?? [
      { name: `layer${i}/`, type: 'directory' as const },
      { name: `layer${i}/data.bin`, data: randomBytes(rnd, opts.layerSize ?? 1024) },
    ];
    const tar = await makeTar(files);
    diffIds.push(digestOf(tar));
    const gz = opts.compression !== 'none';
    const blob = gz ? zlib().gzipSync(tar, { level: 1 }) : tar;
    const mediaType = layerMediaType(docker, gz ? 'gzip' : 'none');
    layers.push({ mediaType, digest: blobs.put(blob), size: blob.length });
  }
  const created = new Date(Date.UTC(2024, 0, 1) + Math.floor(rnd() * 1e10)).toISOString();
  const config = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `SEED=${opts.seed ?? 1}`],
      Cmd: ['/bin/sh'],
      WorkingDir: '/',
      ...(opts.labels ? { Labels: opts.labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [
      ...diffIds.map((_, i) => ({ created, created_by: `/bin/sh -c #(nop) ADD file:layer${i} in /` })),
      { created, created_by: '/bin/sh -c #(nop)  CMD ["/bin/sh"]', empty_layer: true },
    ],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc: Descriptor = {
    mediaType: docker ? MediaTypes.DockerConfig : MediaTypes.OciConfig,
    digest: blobs.put(configBytes),
    size: configBytes.length,
  };
  const manifestType = docker ? MediaTypes.DockerManifest : MediaTypes.OciManifest;
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: manifestType, config: configDesc, layers }, null, 2),
  );
  const digest = blobs.put(manifest);
  return { descriptor: { mediaType: manifestType, digest, size: manifest.length }, manifest, blobs };
}

/** A BuildKit-style attestation manifest (one in-toto statement) about `subject`, and its index entry. */
async function randomAttestation(blobs: MemoryBlobs, subject: Descriptor): Promise<Descriptor> {
  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://spdx.dev/Document',
      subject: [{ name: '_', digest: { sha256: subject.digest.slice(7) } }],
      predicate: {},
    }),
  );
  const layer: Descriptor = {
    mediaType: 'application/vnd.in-toto+json',
    digest: blobs.put(statement),
    size: statement.length,
    annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' },
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'unknown',
      os: 'unknown',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: { mediaType: MediaTypes.OciConfig, digest: blobs.put(config), size: config.length },
      layers: [layer],
    }),
  );
  return {
    mediaType: MediaTypes.OciManifest,
    digest: blobs.put(manifest),
    size: manifest.length,
    annotations: { 'vnd.docker.reference.digest': subject.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
    platform: { architecture: 'unknown', os: 'unknown' },
  };
}

/**
 * An index over one random image per platform (default linux/amd64 and linux/arm64/v8), sharing a
 * blob store. `attestations` adds a BuildKit-style `unknown/unknown` attestation entry per image, after the images.
 */
export async function randomIndex(
  opts: RandomImageOptions & { platforms?: Platform[]; attestations?: boolean } = {},
): Promise<MemoryArtifact> {
  const blobs = opts.blobs ?? new MemoryBlobs();
  const platforms = opts.platforms ?? [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
  ];
  const docker = opts.format === 'docker';
  const manifests: Descriptor[] = [];
  for (const [i, platform] of platforms.entries()) {
    const img = await randomImage({ ...opts, blobs, platform, seed: (opts.seed ?? 1) * 1000 + i });
    manifests.push({ ...img.descriptor, platform });
  }
  if (opts.attestations) for (const m of [...manifests]) manifests.push(await randomAttestation(blobs, m));
  const mediaType = docker ? MediaTypes.DockerManifestList : MediaTypes.OciIndex;
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 2));
  const digest = blobs.put(manifest);
  return { descriptor: { mediaType, digest, size: manifest.length }, manifest, blobs };
}
