// The manifest page's data: the manifest parsed, its config and history, platform sizes of an index, referrers.
import type { ManifestRecord, MetadataStore, ScanRecord } from '../metadata/types.js';
import type { Descriptor } from '../oci/artifact.js';
import { historyWithLayers, parseImageConfig, type ImageConfig } from '../oci/config.js';
import type { Digest } from '../oci/digest.js';
import { parseManifest } from '../oci/manifest.js';
import type { Registry } from '../registry/registry.js';

/** Configs larger than this are not shown (the registry's manifest cap; configs are far smaller). */
const CONFIG_CAP = 4 * 1024 * 1024;

export interface PlatformRow {
  digest: Digest;
  platform: string;
  mediaType: string;
  /** Child manifest + config + layers; null when the child is not in this repository. */
  size: number | null;
  attestation: boolean;
}

export interface HistoryRow {
  instruction: string;
  created: string | undefined;
  /** The layer it made (its compressed size), or undefined for an empty layer. */
  layer: Descriptor | undefined;
}

export interface ManifestView {
  repo: string;
  record: ManifestRecord;
  raw: string;
  kind: 'image' | 'index' | 'schema1';
  tags: string[];
  annotations: Record<string, string>;
  platforms: PlatformRow[];
  layers: Descriptor[];
  configDescriptor: Descriptor | null;
  config: ImageConfig | null;
  /** The config blob as text when it is no image config (an artifact's), else null. */
  configRaw: string | null;
  history: HistoryRow[];
  referrers: ManifestRecord[];
  /** The registry's scan of this manifest (scan.onPush), or null (an index's scans are its children's). */
  scan: ScanRecord | null;
}

/** A history entry as the Dockerfile line that made it ("RUN apk add x", "CMD [\"sh\"]"). */
export function dockerfileLine(createdBy: string | undefined): string {
  if (!createdBy?.trim()) return '# (no command recorded)';
  let s = createdBy.trim().replace(/\s+# buildkit$/, '');
  s = s.replace(/^\|\d+(?:\s+\S+=\S*)*\s+/, '');
  const nop = /^\/bin\/sh -c #\(nop\)\s+(.*)$/s.exec(s);
  if (nop) return nop[1]!.trim();
  const run = /^(?:RUN\s+)?\/bin\/sh -c\s+(.*)$/s.exec(s);
  if (run) return `RUN ${run[1]!.trim()}`;
  return s;
}

function platformText(d: Descriptor): string {
  const p = d.platform;
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/') + (p['os.version'] ? ` ${p['os.version']}` : '');
}

async function readSmall(registry: Registry, repo: string, digest: Digest): Promise<Buffer | null> {
  const r = await registry.readBlob(repo, digest);
  if (r.size > CONFIG_CAP) {
    r.stream.destroy();
    return null;
  }
  const chunks: Buffer[] = [];
  for await (const c of r.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function manifestView(
  registry: Registry,
  meta: MetadataStore,
  repo: string,
  reference: string,
): Promise<ManifestView> {
  const { record, bytes } = await registry.getManifest(repo, reference);
  const doc = parseManifest(bytes, record.mediaType, { lenientMediaType: true });
  let raw = bytes.toString('utf8');
  try {
    raw = JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    // shown as stored
  }
  const [tagRows, referrers, scan] = await Promise.all([
    meta.manifests.tagDetails(repo),
    registry.referrers(repo, record.digest),
    meta.scans.get(record.digest),
  ]);
  const view: ManifestView = {
    repo,
    record,
    raw,
    kind: doc.kind,
    tags: (tagRows ?? [])
      .filter((t) => t.digest === record.digest)
      .map((t) => t.name)
      .sort(),
    annotations: doc.kind === 'schema1' ? {} : (doc.manifest.annotations ?? {}),
    platforms: [],
    layers: [],
    configDescriptor: null,
    config: null,
    configRaw: null,
    history: [],
    referrers: referrers.items,
    scan,
  };
  if (doc.kind === 'index') {
    const sizes = await meta.manifests.sizes(repo, [record.digest]);
    const own = new Map(sizes.filter((s) => s.parent !== null).map((s) => [s.digest, s.size + s.blobBytes]));
    view.platforms = doc.manifest.manifests.map((d) => ({
      digest: d.digest,
      platform: platformText(d),
      mediaType: d.mediaType,
      size: own.get(d.digest) ?? null,
      attestation:
        d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
        (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown'),
    }));
  } else if (doc.kind === 'image') {
    view.layers = doc.manifest.layers;
    view.configDescriptor = doc.manifest.config;
    const cfg = await readSmall(registry, repo, doc.manifest.config.digest).catch(() => null);
    if (cfg) {
      try {
        view.config = parseImageConfig(cfg);
      } catch {
        view.configRaw = cfg.toString('utf8').slice(0, 64 * 1024);
      }
    }
    if (view.config) {
      view.history = historyWithLayers(view.config).map(({ entry, layer }) => ({
        instruction: dockerfileLine(entry.created_by),
        created: entry.created,
        layer: layer === undefined ? undefined : view.layers[layer],
      }));
    }
  }
  return view;
}
