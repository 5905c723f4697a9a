import type { Readable } from 'node:stream';
import type { Artifact, Descriptor, Platform } from './artifact.js';
import { openVerified, readSmallBlob } from './blob.js';
import { decompress, mediaTypeCompression } from './compression.js';
import { parseImageConfig, type ImageConfig } from './config.js';
import type { Digest } from './digest.js';
import { OciError } from './errors.js';
import { manifestKind, parseImageManifest, parseIndexManifest, parseJsonObject } from './manifest.js';
import type { ImageManifest, IndexManifest } from './manifest.js';
import { isImageManifestMediaType, isIndexMediaType } from './mediatypes.js';
import { formatPlatform, hostPlatform, isAttestationPlatform, platformMatches } from './platform.js';

/** One layer of an image: its descriptor, its diff_id, and verified streams of its bytes. */
export interface Layer {
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar, as the config's rootfs.diff_ids states it. */
  diffId: Digest | undefined;
  /** The blob as stored, verified against the descriptor while it streams. */
  compressed(): Promise<Readable>;
  /**
   * The tar, decompressed by what its first bytes say (gzip, zstd or none). UNSUPPORTED for a blob
   * whose media type is not a filesystem layer, and for a foreign layer (kept at its `urls`).
   */
  uncompressed(): Promise<Readable>;
}

/** An immutable view of one image manifest and what it references. */
export interface Image {
  descriptor: Descriptor;
  manifest: ImageManifest;
  /** The manifest's exact bytes. */
  raw: Buffer;
  /** The artifact this view reads from. */
  artifact: Artifact;
  config(): Promise<ImageConfig>;
  rawConfig(): Promise<Buffer>;
  layers(): Promise<Layer[]>;
  /** The platform the config states. */
  platform(): Promise<Platform>;
}

/** An immutable view of an index (or Docker manifest list). */
export interface ImageIndex {
  descriptor: Descriptor;
  index: IndexManifest;
  raw: Buffer;
  artifact: Artifact;
  manifests: Descriptor[];
  /** A child manifest, read and verified. */
  child(d: Descriptor): Promise<Artifact>;
  /** The image for a platform (attestations skipped); an error lists the platforms there are. */
  image(platform: Platform): Promise<Image>;
}

function describe(a: Artifact): string {
  return `${a.descriptor.mediaType} ${a.descriptor.digest}`;
}

/** Whether an artifact is an index or manifest list (by media type, else by a `manifests` array). */
export function isIndex(a: Artifact): boolean {
  try {
    return manifestKind(a.descriptor.mediaType, parseJsonObject(a.manifest, describe(a))) === 'index';
  } catch {
    return false;
  }
}

/** The platform an image config states. */
export function configPlatform(c: ImageConfig): Platform {
  return {
    os: c.os,
    architecture: c.architecture,
    ...(c.variant ? { variant: c.variant } : {}),
    ...(c['os.version'] ? { 'os.version': c['os.version'] } : {}),
    ...(c['os.features']?.length ? { 'os.features': c['os.features'] } : {}),
  };
}

/** A layer to unpack must hold a filesystem (a tar, maybe compressed) that is here, not at foreign `urls`. */
function checkFilesystemLayer(d: Descriptor, i: number): void {
  if (mediaTypeCompression(d.mediaType) === undefined && !/\btar\b|rootfs/.test(d.mediaType)) {
    throw new OciError('UNSUPPORTED', `layer ${i} (${d.digest}) has media type ${d.mediaType}, not a filesystem layer`);
  }
  if (d.urls?.length) {
    const where = `layer ${i} (${d.digest})`;
    throw new OciError('UNSUPPORTED', `${where} is a foreign layer kept at ${d.urls[0]}; fetch it from there`);
  }
}

/** A view of an image artifact. Throws MANIFEST_INVALID if it is an index or not an image manifest. */
export function openImage(a: Artifact): Image {
  if (isIndex(a))
    throw new OciError(
      'MANIFEST_INVALID',
      `${describe(a)} is an index, not an image: pick one of its images (--platform)`,
    );
  const manifest = parseImageManifest(a.manifest, a.descriptor.mediaType, describe(a));
  let raw: Promise<Buffer> | undefined;
  let parsed: Promise<ImageConfig> | undefined;
  const img: Image = {
    descriptor: a.descriptor,
    manifest,
    raw: a.manifest,
    artifact: a,
    rawConfig: () => (raw ??= readSmallBlob(a.blobs, manifest.config)),
    config: () => (parsed ??= img.rawConfig().then((b) => parseImageConfig(b))),
    platform: async () => configPlatform(await img.config()),
    async layers() {
      const diffIds = (await img.config()).rootfs.diff_ids;
      return manifest.layers.map((descriptor, i): Layer => {
        const compressed = () => openVerified(a.blobs, descriptor);
        const uncompressed = async () => {
          checkFilesystemLayer(descriptor, i);
          return (await decompress(await compressed())).stream;
        };
        return { descriptor, diffId: diffIds[i], compressed, uncompressed };
      });
    },
  };
  return img;
}

/** A view of an index artifact. Throws MANIFEST_INVALID if it is an image or not an index. */
export function openIndex(a: Artifact): ImageIndex {
  if (!isIndex(a)) throw new OciError('MANIFEST_INVALID', `${describe(a)} is not an index: use it as an image`);
  const index = parseIndexManifest(a.manifest, a.descriptor.mediaType, describe(a));
  return {
    descriptor: a.descriptor,
    index,
    raw: a.manifest,
    artifact: a,
    manifests: index.manifests,
    child: async (d) => ({ descriptor: d, manifest: await readSmallBlob(a.blobs, d), blobs: a.blobs }),
    image: async (p) => openImage(await resolvePlatform(a, p)),
  };
}

/** The platform to pull when none is asked for: this machine's (linux on macOS, as docker does). */
export function defaultPlatform(): Platform {
  const h = hostPlatform();
  return h.os === 'darwin' ? { ...h, os: 'linux' } : h;
}

/** The platforms an index offers, attestation entries left out (`linux/amd64, linux/arm64/v8`). */
export function indexPlatforms(index: IndexManifest): string {
  return platformList(index.manifests.filter((d) => !isAttestationPlatform(d.platform)));
}

/** Index entries named by platform for a message (`linux/amd64, sha256:… (no platform)`). */
function platformList(entries: Descriptor[]): string {
  return (
    entries.map((d) => (d.platform ? formatPlatform(d.platform) : `${d.digest} (no platform)`)).join(', ') ||
    'no images'
  );
}

/** The entries of an index that can be run: image manifests and nested indexes, attestations left out. */
export function runnableEntries(index: IndexManifest): Descriptor[] {
  return index.manifests.filter(
    (d) =>
      !isAttestationPlatform(d.platform) && (isImageManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType)),
  );
}

/**
 * The one way an index is narrowed to an image for `want`: an image is returned as it is; from an index,
 * the first runnable entry whose platform matches (a lone entry without a platform is taken as it is),
 * nested indexes followed up to 4 deep. `entry` is the index entry that led to the image. The error names
 * what the index offers and ends with `hint`.
 */
export async function imageForPlatform(
  a: Artifact,
  want: Platform,
  hint = 'pick one with --platform',
): Promise<{ image: Artifact; entry?: Descriptor }> {
  let image = a;
  let entry: Descriptor | undefined;
  for (let depth = 0; isIndex(image); depth++) {
    if (depth > 4) throw new OciError('MANIFEST_INVALID', `${a.descriptor.digest}: indexes nested more than 4 deep`);
    const entries = runnableEntries(parseIndexManifest(image.manifest, image.descriptor.mediaType, describe(image)));
    const found =
      entries.find((d) => platformMatches(want, d.platform)) ??
      (entries.length === 1 && !entries[0]!.platform ? entries[0] : undefined);
    if (!found) {
      throw new OciError(
        'MANIFEST_UNKNOWN',
        `no ${formatPlatform(want)} image in the index ${image.descriptor.digest} (it has: ` +
          `${platformList(entries)}); ${hint}`,
      );
    }
    entry = found;
    image = { descriptor: found, manifest: await readSmallBlob(image.blobs, found), blobs: image.blobs };
  }
  return entry ? { image, entry } : { image };
}

/** A single image asked for with `want` must be of that platform (docker refuses it too). */
export function checkImagePlatform(a: Artifact, want: Platform, have: Platform): void {
  if (!platformMatches(want, have)) {
    throw new OciError(
      'MANIFEST_UNKNOWN',
      `no ${formatPlatform(want)} image: ${a.descriptor.digest} is a single-platform ${formatPlatform(have)} image; ` +
        `pick it with --platform ${formatPlatform(have)}`,
    );
  }
}

/**
 * The image of an artifact for `want` (default: this machine's platform): the matching child of an
 * index (see imageForPlatform), or a plain image as it is (its config is checked against `want` only
 * when `want` is given).
 */
export async function resolvePlatform(a: Artifact, want?: Platform): Promise<Artifact> {
  if (!isIndex(a)) {
    if (!want) return a;
    checkImagePlatform(a, want, await openImage(a).platform());
    return a;
  }
  return (await imageForPlatform(a, want ?? defaultPlatform())).image;
}

/** Bytes an image takes: manifest, config and every layer as stored (compressed). */
export function imageSize(image: Image): number {
  return image.raw.length + image.manifest.config.size + image.manifest.layers.reduce((n, l) => n + l.size, 0);
}
