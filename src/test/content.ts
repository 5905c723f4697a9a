/** Test content (not a test): blobs, images, indexes and referrers built in memory, with their digests. */
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { MediaTypes } from '../oci/mediatypes.js';

export function randomBlob(size: number): Buffer {
  return randomBytes(size);
}

export interface Content {
  bytes: Buffer;
  digest: Digest;
  size: number;
  mediaType: string;
}

export function content(
  bytes: Buffer | string,
  mediaType = 'application/octet-stream',
  alg: DigestAlgorithm = 'sha256',
): Content {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  return { bytes: b, digest: digestOf(b, alg), size: b.length, mediaType };
}

export function descriptorOf(c: Content, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType: c.mediaType, digest: c.digest, size: c.size, ...extra };
}

export interface TestImage {
  config: Content;
  layers: Content[];
  manifest: Content;
}

export interface ImageOptions {
  mediaType?: string;
  configMediaType?: string;
  layerMediaType?: string;
  layers?: number;
  layerSize?: number;
  artifactType?: string;
  subject?: Content;
  annotations?: Record<string, string>;
  /** Bytes for the config instead of a random image config. */
  configBytes?: Buffer;
  /** Extra top-level manifest fields. */
  extra?: Record<string, unknown>;
  /** JSON.stringify indentation (odd whitespace still changes the digest but not the meaning). */
  space?: number | string;
  platform?: { os: string; architecture: string };
}

/** A random image (config + layers + manifest, nothing pushed). Docker or OCI by `mediaType`. */
export function makeImage(o: ImageOptions = {}): TestImage {
  const mediaType = o.mediaType ?? MediaTypes.OciManifest;
  const docker = mediaType === MediaTypes.DockerManifest;
  const platform = o.platform ?? { os: 'linux', architecture: 'amd64' };
  const configBytes =
    o.configBytes ??
    Buffer.from(
      JSON.stringify({
        architecture: platform.architecture,
        os: platform.os,
        rootfs: { type: 'layers', diff_ids: [] },
        config: { Env: [`NONCE=${randomBytes(8).toString('hex')}`] },
      }),
    );
  const config = content(configBytes, o.configMediaType ?? (docker ? MediaTypes.DockerConfig : MediaTypes.OciConfig));
  const layers: Content[] = [];
  for (let i = 0; i < (o.layers ?? 1); i++) {
    layers.push(
      content(
        randomBlob(o.layerSize ?? 64),
        o.layerMediaType ?? (docker ? MediaTypes.DockerLayerGzip : MediaTypes.OciLayerGzip),
      ),
    );
  }
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    ...(o.artifactType ? { artifactType: o.artifactType } : {}),
    config: descriptorOf(config),
    layers: layers.map((l) => descriptorOf(l)),
    ...(o.subject ? { subject: descriptorOf(o.subject) } : {}),
    ...(o.annotations ? { annotations: o.annotations } : {}),
    ...(o.extra ?? {}),
  };
  const manifest = content(Buffer.from(JSON.stringify(doc, null, o.space)), mediaType);
  return { config, layers, manifest };
}

export interface IndexChild {
  manifest: Content;
  platform?: { os: string; architecture: string; variant?: string };
  extra?: Record<string, unknown>;
}

/** An OCI index or Docker manifest list over `children`. */
export function makeIndex(
  children: IndexChild[],
  o: { mediaType?: string; artifactType?: string; subject?: Content; annotations?: Record<string, string> } = {},
): Content {
  const mediaType = o.mediaType ?? MediaTypes.OciIndex;
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    ...(o.artifactType ? { artifactType: o.artifactType } : {}),
    manifests: children.map((c) => ({
      ...descriptorOf(c.manifest),
      ...(c.platform ? { platform: c.platform } : {}),
      ...(c.extra ?? {}),
    })),
    ...(o.subject ? { subject: descriptorOf(o.subject) } : {}),
    ...(o.annotations ? { annotations: o.annotations } : {}),
  };
  return content(Buffer.from(JSON.stringify(doc)), mediaType);
}

/** The empty descriptor's blob: `{}`. */
export const EMPTY_CONFIG = content(Buffer.from('{}'), MediaTypes.OciEmpty);

/** An artifact manifest (OCI image manifest with artifactType and empty config) referring to `subject`. */
export function makeReferrer(subject: Content, artifactType: string, annotations?: Record<string, string>): TestImage {
  const layer = content(randomBlob(32), 'application/vnd.example.payload');
  const doc = {
    schemaVersion: 2,
    mediaType: MediaTypes.OciManifest,
    artifactType,
    config: descriptorOf(EMPTY_CONFIG),
    layers: [descriptorOf(layer)],
    subject: descriptorOf(subject),
    ...(annotations ? { annotations } : {}),
  };
  return {
    config: EMPTY_CONFIG,
    layers: [layer],
    manifest: content(Buffer.from(JSON.stringify(doc)), MediaTypes.OciManifest),
  };
}
