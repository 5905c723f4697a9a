// docker inspect, docker history and docker manifest inspect views of an image.
import type { Artifact, Descriptor, Platform } from '../oci/artifact.js';
import type { ContainerConfig, HistoryEntry } from '../oci/config.js';
import { historyWithLayers } from '../oci/config.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { readSmallBlob } from '../oci/blob.js';
import { configPlatform, isIndex, openIndex } from '../oci/image.js';
import { parseJsonObject, parseManifest } from '../oci/manifest.js';
import { resolveImage, type ResolvedImage } from './resolve.js';
import { humanDuration, humanSize } from './units.js';

export { humanDuration, humanSize };

/** How the image is known: `name:tag` and `name@digest` strings, as docker lists them. */
export interface InspectNames {
  repoTags?: string[];
  repoDigests?: string[];
}

/** docker's container.Config as `docker image inspect` prints it: every key, in docker's order. */
function dockerConfig(c: ContainerConfig = {}): Record<string, unknown> {
  const some = (v: unknown) =>
    v !== undefined && v !== null && v !== '' && v !== false && !(typeof v === 'object' && Object.keys(v).length === 0);
  const opt = (key: keyof ContainerConfig) => (some(c[key]) ? { [key]: c[key] } : {});
  return {
    Hostname: c.Hostname ?? '',
    Domainname: c.Domainname ?? '',
    User: c.User ?? '',
    AttachStdin: c.AttachStdin ?? false,
    AttachStdout: c.AttachStdout ?? false,
    AttachStderr: c.AttachStderr ?? false,
    ...opt('ExposedPorts'),
    Tty: c.Tty ?? false,
    OpenStdin: c.OpenStdin ?? false,
    StdinOnce: c.StdinOnce ?? false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...opt('Healthcheck'),
    ...opt('ArgsEscaped'),
    Image: c.Image ?? '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    ...opt('NetworkDisabled'),
    ...opt('MacAddress'),
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    ...opt('StopSignal'),
    ...opt('StopTimeout'),
    ...opt('Shell'),
  };
}

/** Sum of the compressed layer sizes of an image manifest. */
export function compressedSize(layers: readonly Descriptor[]): number {
  return layers.reduce((n, l) => n + l.size, 0);
}

/**
 * `docker image inspect` for one image, docker's keys in docker's order. `Id` is the config digest;
 * `Size` is the layers' unpacked size when `unpacked` gives it (an image of the local store, as docker
 * shows it), else their compressed size (nothing unpacked them); `Descriptor` is what the
 * location names (the index for a multi-platform image, as docker's containerd store shows it).
 */
export function dockerInspect(
  r: ResolvedImage,
  names: InspectNames = {},
  unpacked?: Record<string, number>,
): Record<string, unknown> {
  const c = r.config;
  const layers = r.image.manifest.layers;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    Id: r.image.manifest.config.digest,
    RepoTags: names.repoTags ?? [],
    RepoDigests: names.repoDigests ?? [],
    Parent: str(c.parent),
    Comment: str(c.comment),
    Created: c.created ?? '',
    ...(typeof c.docker_version === 'string' ? { DockerVersion: c.docker_version } : {}),
    Author: c.author ?? '',
    Config: dockerConfig(c.config ?? undefined),
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    ...(c['os.version'] ? { OsVersion: c['os.version'] } : {}),
    Size: unpacked ? layers.reduce((n, l) => n + (unpacked[l.digest] ?? l.size), 0) : compressedSize(layers),
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    Descriptor: {
      mediaType: r.root.descriptor.mediaType,
      digest: r.root.descriptor.digest,
      size: r.root.descriptor.size,
      ...(r.root === r.image.artifact ? { platform: descriptorPlatform(r) } : {}),
    },
  };
}

/** The platform docker shows in an image's descriptor: the config's, without os.features. */
function descriptorPlatform(r: ResolvedImage): Platform {
  const { 'os.features': _f, ...p } = configPlatform(r.config);
  return p;
}

/** One layer-making or metadata step of an image, newest first, as `docker history` lists them. */
export interface HistoryItem {
  /** The image ID on the newest step, else undefined (docker's `<missing>`). */
  id?: string;
  created?: string;
  createdBy: string;
  comment: string;
  emptyLayer: boolean;
  /** The layer this step made (compressed size in `size`). */
  layer?: Descriptor;
  size: number;
}

/**
 * An image's history steps, newest first, each with the layer it made (its unpacked size when `unpacked` has it).
 * Images without history get one step per layer.
 */
export function imageHistory(r: ResolvedImage, unpacked?: Record<string, number>): HistoryItem[] {
  const layers = r.image.manifest.layers;
  const steps = (r.config.history ?? []).length
    ? historyWithLayers(r.config).map(({ entry, layer }) => ({
        entry,
        layer: layer === undefined ? undefined : layers[layer],
      }))
    : layers.map((l) => ({ entry: { created: r.config.created } as HistoryEntry, layer: l as Descriptor | undefined }));
  const items = steps.map(({ entry, layer }) => ({
    ...(entry.created ? { created: entry.created } : {}),
    createdBy: entry.created_by ?? '',
    comment: entry.comment ?? '',
    emptyLayer: !layer,
    ...(layer ? { layer } : {}),
    size: layer ? (unpacked?.[layer.digest] ?? layer.size) : 0,
  }));
  items.reverse();
  if (items[0]) (items[0] as HistoryItem).id = r.image.manifest.config.digest;
  return items;
}

/** docker's Ellipsis: at most `max` characters, the last one `…` when cut. */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
}

/** A `docker history` row: the fields its `--format` templates name. */
export interface HistoryRow {
  ID: string;
  CreatedSince: string;
  CreatedAt: string;
  CreatedBy: string;
  Size: string;
  Comment: string;
}

/** docker's column headers for history rows. */
export const HISTORY_HEADERS: Record<keyof HistoryRow, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/**
 * History items as docker prints them: short IDs, "3 weeks ago", `…` past 45 characters, 3.62MB; `human: false` gives
 * RFC 3339 and bytes.
 */
export function historyRows(
  items: HistoryItem[],
  opts: { human?: boolean; trunc?: boolean; now?: Date } = {},
): HistoryRow[] {
  const human = opts.human ?? true;
  const trunc = opts.trunc ?? true;
  const now = (opts.now ?? new Date()).getTime();
  return items.map((h) => {
    const t = h.created ? Date.parse(h.created) : NaN;
    const createdAt = Number.isNaN(t) ? '' : new Date(Math.floor(t / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const by = h.createdBy.replace(/\t/g, ' ');
    return {
      ID: h.id ? (trunc ? h.id.slice(h.id.indexOf(':') + 1, h.id.indexOf(':') + 13) : h.id) : '<missing>',
      CreatedSince: !human ? createdAt : Number.isNaN(t) ? 'N/A' : `${humanDuration(now - t)} ago`,
      CreatedAt: createdAt,
      CreatedBy: trunc ? ellipsis(by, 45) : by,
      Size: human ? humanSize(h.size) : String(h.size),
      Comment: h.comment,
    };
  });
}

function manifestEntry(ref: string, d: Descriptor, manifest: Buffer): Record<string, unknown> {
  const p = parseManifest(manifest, d.mediaType, { what: `${d.mediaType} ${d.digest}` });
  const parsed = p.kind === 'schema1' ? parseJsonObject(manifest, `${d.mediaType} ${d.digest}`) : p.manifest;
  const key = d.mediaType === MediaTypes.DockerManifest ? 'SchemaV2Manifest' : 'OCIManifest';
  const { annotations: _a, ...descriptor } = d;
  const size = compressedSize(p.kind === 'image' ? p.manifest.layers : []);
  return { Ref: ref, Descriptor: descriptor, Raw: manifest.toString('base64'), [key]: parsed, CompressedSize: size };
}

/**
 * `docker manifest inspect`: the manifest as stored, re-indented with tabs; with `verbose`, docker's
 * `{Ref, Descriptor, Raw, SchemaV2Manifest|OCIManifest}` for the image (or an array of them, one per
 * entry of an index), each with the compressed size of its layers as `CompressedSize`.
 */
export async function manifestInspect(a: Artifact, opts: { verbose?: boolean; ref?: string } = {}): Promise<string> {
  if (!opts.verbose) return JSON.stringify(parseJsonObject(a.manifest, `manifest ${a.descriptor.digest}`), null, '\t');
  const ref = opts.ref ?? a.descriptor.digest;
  if (!isIndex(a)) {
    const r = await resolveImage(a);
    const entry = manifestEntry(ref, { ...a.descriptor, platform: descriptorPlatform(r) }, a.manifest);
    return JSON.stringify(entry, null, '\t');
  }
  const entries = openIndex(a).manifests;
  const out: Record<string, unknown>[] = [];
  for (const d of entries) {
    const bytes = await readSmallBlob(a.blobs, d);
    out.push(manifestEntry(`${ref.replace(/@sha256:[0-9a-f]{64}$/, '')}@${d.digest}`, d, bytes));
  }
  return JSON.stringify(out, null, '\t');
}
