// New images and indexes made from old ones: layers appended, config and manifest fields changed, indexes built.
import { Readable } from 'node:stream';
import type { Artifact, BlobReader, Descriptor, Platform } from './artifact.js';
import { OverlayBlobs, readSmallBlob } from './blob.js';
import { compress, type Compression } from './compression.js';
import { parseImageConfig, type HistoryEntry, type ImageConfig, type NoExtraKeys } from './config.js';
import { digestOf, type Digest } from './digest.js';
import { OciError } from './errors.js';
import { isIndex, openImage, openIndex, indexPlatforms } from './image.js';
import { parseManifest, type ImageManifest, type IndexManifest } from './manifest.js';
import { MediaTypes, isManifestMediaType, layerMediaType } from './mediatypes.js';
import { spoolLayer, type SpooledBlob, type Spooled } from './spool.js';
import { formatPlatform, isAttestationPlatform, platformMatches } from './platform.js';

/** BuildKit's annotation on an attestation entry: the image it describes. */
const REFERENCE_DIGEST = 'vnd.docker.reference.digest';

/** A layer to append: a tar (in memory, or a stream factory), how to compress it, its history entry. */
export interface NewLayer {
  tar: Buffer | (() => Promise<Readable>);
  /** gzip by default. */
  compression?: Compression;
  history?: HistoryEntry;
  annotations?: Record<string, string>;
  /** A layer already compressed (with `compression`, gzip by default): its blob is used as it is, `tar` unread. */
  compressed?: { blob: BlobReader; digest: Digest; size: number; diffId: Digest };
}

/** Serialises a new manifest; its bytes join `added` so readers of the result can open it by digest. */
export function finish(
  mediaType: string,
  doc: object,
  added: Map<Digest, Buffer>,
  fallbacks: BlobReader[],
  routes?: Map<Digest, BlobReader>,
): Artifact {
  const manifest = Buffer.from(JSON.stringify(doc));
  const digest = digestOf(manifest);
  added.set(digest, manifest);
  return {
    descriptor: { mediaType, digest, size: manifest.length },
    manifest,
    blobs: new OverlayBlobs(added, fallbacks, routes),
  };
}

interface Draft {
  manifest: ImageManifest;
  config: ImageConfig;
  /** New blobs in memory. */
  added: Map<Digest, Buffer>;
  /** New blobs elsewhere (spooled layers), by digest. */
  routes: Map<Digest, BlobReader>;
}

/** Copies an image's manifest and config, lets `change` edit them, and writes the new config and manifest. */
export async function rebuildImage(a: Artifact, change: (d: Draft) => void | Promise<void>): Promise<Artifact> {
  const img = openImage(a);
  const draft: Draft = {
    manifest: structuredClone(img.manifest),
    config: structuredClone(await img.config()),
    added: new Map(),
    routes: new Map(),
  };
  await change(draft);
  const configBytes = Buffer.from(JSON.stringify(draft.config));
  parseImageConfig(configBytes);
  const n = draft.manifest.layers.length;
  if (draft.config.rootfs.diff_ids.length !== n) {
    throw new OciError(
      'MANIFEST_INVALID',
      `the new config has ${draft.config.rootfs.diff_ids.length} rootfs.diff_ids for ${n} layers: change layers ` +
        `with appendLayers, not withConfig`,
    );
  }
  const digest = digestOf(configBytes);
  draft.added.set(digest, configBytes);
  draft.manifest.config = { ...draft.manifest.config, digest, size: configBytes.length };
  return finish(a.descriptor.mediaType, draft.manifest, draft.added, [a.blobs], draft.routes);
}

/** Edits the manifest document itself (an image's or an index's). */
async function rebuildManifest(a: Artifact, change: (m: ImageManifest | IndexManifest) => void): Promise<Artifact> {
  const doc = structuredClone(isIndex(a) ? openIndex(a).index : openImage(a).manifest);
  change(doc);
  return finish(a.descriptor.mediaType, doc, new Map(), [a.blobs]);
}

async function collect(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** One new layer: a tar in memory is compressed in memory; a streamed one is spooled to a temporary file. */
async function buildLayer(
  l: NewLayer,
  compression: Compression,
): Promise<Omit<Spooled, 'blob'> & { blob: Buffer | SpooledBlob | BlobReader }> {
  if (l.compressed) return l.compressed;
  if (!Buffer.isBuffer(l.tar)) return spoolLayer(await l.tar(), compression);
  const blob = compression === 'none' ? l.tar : await collect(compress(Readable.from([l.tar]), compression));
  return { blob, digest: digestOf(blob), size: blob.length, diffId: digestOf(l.tar) };
}

/** When new history entries and the config say they were made: `created`, else SOURCE_DATE_EPOCH, else now. */
export function creationTime(created?: Date | string, env: NodeJS.ProcessEnv = process.env): string {
  let t: Date;
  if (created !== undefined) {
    t = new Date(created);
    if (Number.isNaN(t.getTime())) throw new RangeError(`created "${String(created)}" is not a date: give a Date`);
  } else if (env.SOURCE_DATE_EPOCH) {
    const epoch = env.SOURCE_DATE_EPOCH;
    if (!/^\d+$/.test(epoch))
      throw new RangeError(
        `SOURCE_DATE_EPOCH is "${epoch}", not a count of seconds since 1970: set it to an integer or unset it`,
      );
    t = new Date(Number(epoch) * 1000);
  } else t = new Date();
  // RFC 3339 as Go writes it (buildkit, umoci): no fraction when there is none.
  return t.toISOString().replace('.000Z', 'Z');
}

export interface AppendOptions {
  /**
   * The time written as `created` on the new history entries (those that give none) and on the config.
   * Default: SOURCE_DATE_EPOCH when set (reproducible builds, as buildkit reads it), else now.
   */
  created?: Date | string;
}

/**
 * Appends layers: new blobs, rootfs.diff_ids and history (each new entry with `created`, as is the config);
 * layer media types follow the manifest's kind. A streamed tar (`tar: () => Promise<Readable>`) is
 * compressed into a temporary file that is unlinked at once (nothing to clean up) and read through its open
 * descriptor, never held whole in memory; the descriptor closes when no artifact made from it is reachable.
 */
export async function appendLayers(a: Artifact, layers: NewLayer[], opts: AppendOptions = {}): Promise<Artifact> {
  const docker = a.descriptor.mediaType === MediaTypes.DockerManifest;
  const created = creationTime(opts.created);
  return rebuildImage(a, async ({ manifest, config, added, routes }) => {
    const before = manifest.layers.length;
    if (config.history === undefined && (before === 0 || layers.some((l) => l.history)))
      config.history = Array.from({ length: before }, () => ({}));
    for (const l of layers) {
      const compression = l.compression ?? 'gzip';
      const mediaType = layerMediaType(docker, compression);
      const { blob, digest, size, diffId } = await buildLayer(l, compression);
      if (Buffer.isBuffer(blob)) added.set(digest, blob);
      else routes.set(digest, blob);
      manifest.layers.push({ mediaType, digest, size, ...(l.annotations ? { annotations: l.annotations } : {}) });
      config.rootfs.diff_ids.push(diffId);
      const { empty_layer: _, ...entry } = l.history ?? { comment: 'appended by kura' };
      config.history?.push({ created, ...entry });
    }
    config.created = created;
  });
}

/**
 * Replaces the config with what `f` returns (given a copy); layers cannot change this way. A key the config
 * types do not have does not compile, however deep; fields of the config read that the types do not name are
 * kept when `f` spreads the copy (`({ ...c, config: { ...c.config, Cmd } })`).
 */
export function withConfig<R extends ImageConfig>(
  a: Artifact,
  f: (c: ImageConfig) => R & NoExtraKeys<ImageConfig, R>,
): Promise<Artifact> {
  return rebuildImage(a, (d) => {
    d.config = f(d.config);
  });
}

/** Sets (and with `remove`, deletes) config labels. */
export function withLabels(
  a: Artifact,
  labels: Record<string, string>,
  opts: { remove?: string[] } = {},
): Promise<Artifact> {
  return rebuildImage(a, ({ config }) => {
    const next: Record<string, string> = { ...config.config?.Labels, ...labels };
    for (const k of opts.remove ?? []) delete next[k];
    config.config ??= {};
    if (Object.keys(next).length) config.config.Labels = next;
    else delete config.config.Labels;
  });
}

/** Sets (in place, else appended) and with `remove` deletes environment variables of the config. */
export function withEnv(a: Artifact, env: Record<string, string>, opts: { remove?: string[] } = {}): Promise<Artifact> {
  return rebuildImage(a, ({ config }) => {
    const keyOf = (e: string) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
    const list = (config.config?.Env ?? []).filter((e) => !(opts.remove ?? []).includes(keyOf(e)));
    for (const [k, v] of Object.entries(env)) {
      const i = list.findIndex((e) => keyOf(e) === k);
      if (i >= 0) list[i] = `${k}=${v}`;
      else list.push(`${k}=${v}`);
    }
    config.config ??= {};
    config.config.Env = list;
  });
}

/** Sets the platform fields of the config (os, architecture, variant, os.version, os.features). */
export function withPlatform(a: Artifact, p: Platform): Promise<Artifact> {
  return rebuildImage(a, ({ config }) => {
    config.os = p.os;
    config.architecture = p.architecture;
    for (const k of ['variant', 'os.version', 'os.features'] as const) {
      if (p[k] !== undefined) (config as unknown as Record<string, unknown>)[k] = p[k];
      else delete config[k];
    }
  });
}

/** Sets (and with `remove`, deletes) the manifest's own annotations (an image's or an index's). */
export function withAnnotations(
  a: Artifact,
  annotations: Record<string, string>,
  opts: { remove?: string[] } = {},
): Promise<Artifact> {
  return rebuildManifest(a, (m) => {
    const next = { ...m.annotations, ...annotations };
    for (const k of opts.remove ?? []) delete next[k];
    if (Object.keys(next).length) m.annotations = next;
    else delete m.annotations;
  });
}

/** Points the manifest at a subject (the referrers API links it there); undefined removes it. */
export function withSubject(a: Artifact, subject: Descriptor | undefined): Promise<Artifact> {
  return rebuildManifest(a, (m) => {
    if (subject)
      m.subject = {
        mediaType: subject.mediaType,
        digest: subject.digest,
        size: subject.size,
        ...(subject.artifactType ? { artifactType: subject.artifactType } : {}),
      };
    else delete m.subject;
  });
}

/** Keeps the entries of an index that match one of `platforms`, and the attestations of those. */
export async function filterIndex(a: Artifact, platforms: Platform[]): Promise<Artifact> {
  const idx = openIndex(a);
  const kept = new Set(
    idx.manifests
      .filter((d) => !isAttestationPlatform(d.platform) && platforms.some((p) => platformMatches(p, d.platform)))
      .map((d) => d.digest),
  );
  if (!kept.size) {
    throw new OciError(
      'MANIFEST_UNKNOWN',
      `nothing in the index matches ${platforms.map(formatPlatform).join(', ') || 'no platform'} (has ` +
        `${indexPlatforms(idx.index)}); pick from those with --platform`,
    );
  }
  const isKept = (d: Descriptor) =>
    kept.has(d.digest) || (isAttestationPlatform(d.platform) && kept.has(d.annotations?.[REFERENCE_DIGEST] as Digest));
  const manifests = idx.manifests.filter(isKept);
  // Nothing filtered out: the index as it is, byte-exact, so its digest (and signatures on it) hold.
  if (manifests.length === idx.manifests.length) return a;
  const doc = { ...structuredClone(idx.index), manifests };
  return finish(a.descriptor.mediaType, doc, new Map(), [a.blobs]);
}

/** An image or index to put in a new index; an image's platform is read from its config when not given. */
export interface IndexEntry {
  artifact: Artifact;
  platform?: Platform;
}

/** Routes each descriptor, and every blob under those that are manifests (read and parsed), to `reader`. */
async function route(descriptors: Descriptor[], reader: BlobReader, routes: Map<Digest, BlobReader>): Promise<void> {
  for (const d of descriptors) {
    routes.set(d.digest, reader);
    if (!isManifestMediaType(d.mediaType)) continue;
    const p = parseManifest(await readSmallBlob(reader, d), d.mediaType, { what: `${d.mediaType} ${d.digest}` });
    if (p.kind === 'index') await route(p.manifest.manifests, reader, routes);
    if (p.kind === 'image') await route([p.manifest.config, ...p.manifest.layers], reader, routes);
  }
}

/**
 * An index over images (or over the children of indexes, as `buildx imagetools create` does).
 * Two different images for one platform are an error. Docker manifest lists take no annotations.
 */
export async function createIndex(
  entries: IndexEntry[],
  opts: { annotations?: Record<string, string>; mediaType?: 'oci' | 'docker' } = {},
): Promise<Artifact> {
  const added = new Map<Digest, Buffer>();
  const routes = new Map<Digest, BlobReader>();
  const manifests: Descriptor[] = [];
  const byPlatform = new Map<string, Digest>();
  const add = (d: Descriptor) => {
    if (!isAttestationPlatform(d.platform)) {
      const key = d.platform
        ? `${formatPlatform(d.platform)}${d.platform['os.version'] ? `:${d.platform['os.version']}` : ''}`
        : `(no platform) ${d.digest}`;
      const had = byPlatform.get(key);
      if (had === d.digest) return;
      if (had)
        throw new OciError(
          'MANIFEST_INVALID',
          `two images for ${key} (${had} and ${d.digest}): give each entry its own platform`,
        );
      byPlatform.set(key, d.digest);
    } else if (manifests.some((m) => m.digest === d.digest)) return;
    manifests.push(d);
  };
  for (const e of entries) {
    const a = e.artifact;
    if (isIndex(a)) {
      const idx = openIndex(a);
      const picked = e.platform ? [e.platform] : undefined;
      const children = picked ? openIndex(await filterIndex(a, picked)).manifests : idx.manifests;
      await route(children, a.blobs, routes);
      children.forEach(add);
    } else {
      const img = openImage(a);
      const platform = e.platform ?? (await img.platform());
      added.set(a.descriptor.digest, a.manifest);
      await route([img.manifest.config, ...img.manifest.layers], a.blobs, routes);
      add({ mediaType: a.descriptor.mediaType, digest: a.descriptor.digest, size: a.descriptor.size, platform });
    }
  }
  const docker = opts.mediaType
    ? opts.mediaType === 'docker'
    : manifests.length > 0 && manifests.every((m) => m.mediaType === MediaTypes.DockerManifest);
  if (docker && opts.annotations && Object.keys(opts.annotations).length) {
    throw new OciError(
      'UNSUPPORTED',
      'a Docker manifest list has no annotations: make an OCI index (mediaType "oci") to annotate it',
    );
  }
  const mediaType = docker ? MediaTypes.DockerManifestList : MediaTypes.OciIndex;
  const doc = {
    schemaVersion: 2,
    mediaType,
    manifests,
    ...(opts.annotations && Object.keys(opts.annotations).length ? { annotations: opts.annotations } : {}),
  };
  const sources = [...new Set(entries.map((e) => e.artifact.blobs))];
  return finish(mediaType, doc, added, sources, routes);
}
