/** docker-archive read (DockerArchive): the four shapes docker save and others write. */
import type { Artifact, BlobReader, Closer, Descriptor, Source, TagLister } from '../../oci/artifact.js';
import { digestOf, isDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { formatImageReference, parseImageReference } from '../../oci/imageref.js';
import { parseManifest } from '../../oci/manifest.js';
import { isManifestMediaType } from '../../oci/mediatypes.js';
import { hostPlatform, isAttestationPlatform, platformMatches } from '../../oci/platform.js';
import { parseManifestJson, synthesizeManifest, type ManifestJsonEntry } from './docker-synth.js';
import { stripName, children } from '../../oci/tree.js';
import { notAnImageArchive, TarIndex } from './tar-index.js';
import { CONTAINERD_NAME, REF_NAME, TarLayout, blobPath } from '../layout/tar-layout.js';

/** An image of a docker-archive, as `kura load` lists them. */
export interface ArchiveImage {
  /** Names as the archive gives them (may be empty). */
  repoTags: string[];
  configDigest: Digest;
  /** The image's OCI manifest or index in the archive, when it has one (Docker 25+, containerd). */
  manifestDigest?: Digest;
}

interface Entry extends ArchiveImage {
  /** The manifest.json element; absent for an archive with only index.json. */
  json?: ManifestJsonEntry;
  /** The index.json descriptor served for this image (a nested index when complete in the archive). */
  oci?: Descriptor;
  artifact?: Artifact;
}

/** A name compared the way docker does: `app:v1` is `docker.io/library/app:v1`. */
function normalName(name: string): string {
  try {
    return formatImageReference(parseImageReference(name));
  } catch {
    return name;
  }
}

/**
 * skopeo's `docker-archive:FILE[:REF]` for reading: `docker save` output of every era (legacy
 * `<v1id>/layer.tar`, Docker 25+ OCI layout, containerd nested indexes), ggcr and skopeo tarballs,
 * plain or gzip/zstd-compressed. REF is a RepoTag, a manifest digest, `@N` (Nth image), or '' when
 * the archive holds one image. OCI manifests are served byte-exact; other images get a Docker
 * schema2 manifest over the layer files as they are (hashed, and checked against the config, on `get`).
 */
export class DockerArchive implements Source, TagLister, Closer {
  private state?: Promise<{ tar: TarIndex; layout: TarLayout; entries: Entry[] }>;
  /** Where synthesized manifests' blobs live in the archive. */
  private readonly paths = new Map<Digest, string>();

  constructor(readonly file: string) {}

  private load() {
    this.state ??= (async () => {
      const tar = await TarIndex.open(this.file);
      try {
        const layout = new TarLayout(tar);
        return { tar, layout, entries: await this.scan(tar, layout) };
      } catch (e) {
        await tar.close();
        throw e;
      }
    })();
    this.state.catch(() => (this.state = undefined));
    return this.state;
  }

  private async scan(tar: TarIndex, layout: TarLayout): Promise<Entry[]> {
    const oci = layout.isLayout() ? await this.ociImages(layout) : [];
    if (!tar.find('manifest.json')) {
      if (!layout.isLayout()) throw notAnImageArchive(this.file);
      const seen = new Set<string>();
      return oci
        .filter((o) => !seen.has(o.descriptor.digest) && seen.add(o.descriptor.digest))
        .map((o) => ({
          repoTags: o.name ? [o.name] : [],
          configDigest: o.configDigest,
          manifestDigest: o.descriptor.digest,
          oci: o.descriptor,
        }));
    }
    const out: Entry[] = [];
    for (const json of parseManifestJson(await tar.read('manifest.json'), this.file)) {
      const configDigest = digestOf(await tar.read(json.Config));
      const match = oci.find((o) => o.configDigest === configDigest);
      out.push({
        repoTags: json.RepoTags ?? [],
        configDigest,
        json,
        ...(match ? { oci: match.descriptor, manifestDigest: match.descriptor.digest } : {}),
      });
    }
    return out;
  }

  /** index.json entries with the config each stands for; a nested index is kept only when complete here. */
  private async ociImages(
    layout: TarLayout,
  ): Promise<{ descriptor: Descriptor; configDigest: Digest; name?: string }[]> {
    const out: { descriptor: Descriptor; configDigest: Digest; name?: string }[] = [];
    for (const d of (await layout.index()).manifests) {
      if (!layout.has(d.digest)) continue;
      const name = d.annotations?.[CONTAINERD_NAME] ?? d.annotations?.[REF_NAME];
      const doc = parseManifest(await layout.manifest(d), d.mediaType, { what: `${this.file}: ${d.digest}` });
      if (doc.kind === 'image') out.push({ descriptor: stripName(d), configDigest: doc.manifest.config.digest, name });
      if (doc.kind !== 'index') continue;
      const images = doc.manifest.manifests.filter((m) => !isAttestationPlatform(m.platform) && layout.has(m.digest));
      const complete = await this.complete(layout, d);
      const host = hostPlatform();
      images.sort((a, b) => Number(platformMatches(host, b.platform)) - Number(platformMatches(host, a.platform)));
      for (const m of images) {
        const child = parseManifest(await layout.manifest(m), m.mediaType, { what: `${this.file}: ${m.digest}` });
        if (child.kind === 'image')
          out.push({ descriptor: complete ? stripName(d) : m, configDigest: child.manifest.config.digest, name });
      }
    }
    return out;
  }

  /** Whether every blob under `d` is in the archive (copying the whole index is possible). */
  private async complete(layout: TarLayout, d: Descriptor): Promise<boolean> {
    if (!layout.has(d.digest)) return false;
    if (!isManifestMediaType(d.mediaType)) return true;
    for (const c of children(await layout.manifest(d), d.mediaType))
      if (!(await this.complete(layout, c))) return false;
    return true;
  }

  /** The images the archive holds, in manifest.json order. */
  async images(): Promise<ArchiveImage[]> {
    return (await this.load()).entries.map(({ repoTags, configDigest, manifestDigest }) => ({
      repoTags,
      configDigest,
      ...(manifestDigest ? { manifestDigest } : {}),
    }));
  }

  /** Every RepoTag in the archive. */
  async tags(): Promise<string[]> {
    return (await this.load()).entries.flatMap((e) => e.repoTags);
  }

  readonly blobs: BlobReader = {
    open: async (d) => {
      const { tar, layout } = await this.load();
      const path = this.paths.get(d.digest) ?? (layout.has(d.digest) ? blobPath(d.digest) : undefined);
      if (!path) throw new OciError('BLOB_UNKNOWN', `${this.file} has no blob ${d.digest}`);
      return tar.open(path);
    },
  };

  private async artifact(e: Entry): Promise<Artifact> {
    if (e.artifact) return e.artifact;
    const { tar, layout } = await this.load();
    if (e.oci) {
      e.artifact = { descriptor: e.oci, manifest: await layout.manifest(e.oci), blobs: this.blobs };
    } else {
      const { manifest, paths } = await synthesizeManifest(tar, e.json!);
      for (const [d, p] of paths) this.paths.set(d, p);
      const { mediaType } = parseManifest(manifest, undefined, { what: `${this.file}: manifest from manifest.json` });
      e.artifact = {
        descriptor: { mediaType, digest: digestOf(manifest), size: manifest.length },
        manifest,
        blobs: this.blobs,
      };
    }
    return e.artifact;
  }

  async get(ref: string): Promise<Artifact> {
    const { layout, entries } = await this.load();
    const list = () =>
      entries.map((e, i) => `@${i}${e.repoTags.length ? ` (${e.repoTags.join(', ')})` : ''}`).join(', ') || 'none';
    if (ref === '') {
      if (entries.length === 1) return this.artifact(entries[0]!);
      throw new OciError('MANIFEST_UNKNOWN', `${this.file} holds ${entries.length} images: name one of ${list()}`);
    }
    if (/^@\d+$/.test(ref)) {
      const e = entries[Number(ref.slice(1))];
      if (!e) throw new OciError('MANIFEST_UNKNOWN', `${this.file} has no image ${ref}: it holds ${list()}`);
      return this.artifact(e);
    }
    if (isDigest(ref)) {
      const byIndex = entries.find((e) => e.oci?.digest === ref);
      if (byIndex) return this.artifact(byIndex);
      if (layout.isLayout() && layout.has(ref)) return layout.get(ref);
      for (const e of entries.filter((x) => !x.oci))
        if ((await this.artifact(e)).descriptor.digest === ref) return this.artifact(e);
    } else {
      const want = normalName(ref);
      const e = entries.find((x) => x.repoTags.some((t) => t === ref || normalName(t) === want));
      if (e) return this.artifact(e);
    }
    throw new OciError('MANIFEST_UNKNOWN', `${this.file} has no image "${ref}": it holds ${list()}`);
  }

  /** Removes the temporary decompressed copy of a compressed archive. */
  async close(): Promise<void> {
    const s = this.state;
    this.state = undefined;
    if (s) await (await s.catch(() => undefined))?.tar.close();
  }
}
