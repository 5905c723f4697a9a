import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact, BlobReader, Descriptor } from '../oci/artifact.js';
import { digestOf, isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MediaTypes } from '../oci/mediatypes.js';
import { parseArtifactManifest, parseIndexManifest, parseManifest } from '../oci/manifest.js';
import { readSmallBlob } from '../oci/blob.js';
import { parseIndexJson } from '../transports/layout/index-json.js';
import type { OciLayout } from '../transports/layout/index.js';
import { TarLayout } from '../transports/layout/tar-layout.js';
import type { OciArchive } from '../transports/archive/oci-archive.js';
import type { RegistryRepository } from '../transports/registry/index.js';
import { scopes, type AuthNeed } from '../transports/registry/auth.js';
import { bodyText, discard } from '../transports/registry/http.js';

/**
 * Where an image's graph lives and can be read or extended: a registry repository or an OCI layout.
 * Signatures, attestations and SBOMs hang off a manifest either as cosign tags (`sha256-<hex>.sig`)
 * or as referrers (manifests whose `subject` is it).
 */
export interface GraphStore {
  /** The repository signatures name as identity (`registry/repository`), or the layout's path. */
  readonly name: string;
  get(ref: string): Promise<Artifact>;
  /** The manifest a tag names, or undefined when there is no such tag. */
  find(tag: string): Promise<Artifact | undefined>;
  put(ref: string, a: Artifact): Promise<Descriptor>;
  /** Descriptors of the manifests whose subject is `digest`. */
  referrers(digest: Digest): Promise<Descriptor[]>;
  /** Stores a manifest with a subject, by digest, indexed so that `referrers` finds it. */
  putReferrer(a: Artifact, subject: Digest): Promise<Descriptor>;
}

/** The referrers tag schema's tag for a digest: `<alg>-<hex>` (distribution-spec). */
export function referrersTag(d: Digest): string {
  const [alg, hex] = d.split(':') as [string, string];
  return `${alg.slice(0, 32)}-${hex.slice(0, 64)}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** cosign's tag for what is attached to a digest: `sha256-<hex>.sig`, `.att`, `.sbom`. */
export function cosignTag(d: Digest, suffix: 'sig' | 'att' | 'sbom'): string {
  return `${referrersTag(d)}.${suffix}`;
}

/** The index descriptor of a referrer: its artifactType (or config media type) and annotations. */
export function referrerDescriptor(a: Artifact): Descriptor {
  const p = parseArtifactManifest(a);
  type Parts = { artifactType?: string; config?: Descriptor; annotations?: Record<string, string> };
  const m: Parts = p.kind === 'schema1' ? {} : p.manifest;
  const artifactType =
    m.artifactType ?? (m.config && m.config.mediaType !== MediaTypes.OciEmpty ? m.config.mediaType : undefined);
  return {
    mediaType: a.descriptor.mediaType,
    digest: a.descriptor.digest,
    size: a.descriptor.size,
    ...(artifactType ? { artifactType } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  };
}

/** The entries of a referrers tag schema index. */
function referrersOf(idx: Artifact): Descriptor[] {
  return parseIndexManifest(idx.manifest, idx.descriptor.mediaType, `referrers ${idx.descriptor.digest}`).manifests;
}

function subjectOf(manifest: Buffer): Digest | undefined {
  try {
    const p = parseManifest(manifest, undefined);
    const d = p.kind === 'schema1' ? undefined : p.manifest.subject?.digest;
    return d && isDigest(d) ? d : undefined;
  } catch {
    return undefined;
  }
}

function notFound(e: unknown): boolean {
  return e instanceof OciError && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN');
}

/** An index of referrers as a new artifact (for the tag schema). */
function referrersIndex(manifests: Descriptor[], blobs: BlobReader): Artifact {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests }));
  return {
    descriptor: { mediaType: MediaTypes.OciIndex, digest: digestOf(bytes), size: bytes.length },
    manifest: bytes,
    blobs,
  };
}

/**
 * A registry repository as a graph store: referrers through the referrers API, or, where the registry
 * has none (404, as Distribution 2.8), through the referrers tag schema, which this store maintains.
 */
export class RegistryGraphStore implements GraphStore {
  private api: boolean | undefined;

  constructor(readonly repo: RegistryRepository) {}

  get name(): string {
    return `${this.repo.client.registry}/${this.repo.repo}`;
  }

  get(ref: string): Promise<Artifact> {
    return this.repo.get(ref);
  }

  async find(tag: string): Promise<Artifact | undefined> {
    try {
      return await this.repo.get(tag);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  put(ref: string, a: Artifact): Promise<Descriptor> {
    return this.repo.write(ref, a);
  }

  /** The referrers API's answer, or undefined when the registry has no such API. */
  private async apiReferrers(digest: Digest): Promise<Descriptor[] | undefined> {
    if (this.api === false) return undefined;
    const need: AuthNeed = { scopes: scopes.pull(this.repo.repo), repository: this.repo.repo };
    const ep = this.repo.client.endpoint;
    const res = await ep.request('GET', `/v2/${this.repo.repo}/referrers/${digest}`, need, {
      headers: { accept: MediaTypes.OciIndex },
    });
    if (res.status === 404 || res.status === 405 || res.status === 400) {
      await discard(res);
      this.api = false;
      return undefined;
    }
    if (res.status !== 200) throw await ep.error(res, `referrers of ${this.name}@${digest}`, need, 'MANIFEST_UNKNOWN');
    this.api = true;
    const body = Buffer.from(await bodyText(res, 4 << 20));
    return parseIndexManifest(body, MediaTypes.OciIndex, `the referrers of ${this.name}@${digest}`).manifests;
  }

  async referrers(digest: Digest): Promise<Descriptor[]> {
    const viaApi = await this.apiReferrers(digest);
    if (viaApi) return viaApi;
    const idx = await this.find(referrersTag(digest));
    if (!idx) return [];
    return referrersOf(idx);
  }

  async putReferrer(a: Artifact, subject: Digest): Promise<Descriptor> {
    const d = await this.repo.write(a.descriptor.digest, a);
    if ((await this.apiReferrers(subject)) !== undefined) return d;
    // No referrers API: keep the tag schema's index (read, add, write back; racy, as the spec warns).
    const tag = referrersTag(subject);
    const old = await this.find(tag);
    const manifests = old ? referrersOf(old) : [];
    if (!manifests.some((m) => m.digest === a.descriptor.digest)) {
      await this.repo.write(tag, referrersIndex([...manifests, referrerDescriptor(a)], this.repo.blobs));
    }
    return d;
  }
}

/** The entries of a layout's index.json whose manifest has `digest` as subject. */
async function layoutReferrers(entries: Descriptor[], blobs: BlobReader, digest: Digest): Promise<Descriptor[]> {
  const out: Descriptor[] = [];
  for (const e of entries) {
    if (e.mediaType !== MediaTypes.OciManifest || out.some((o) => o.digest === e.digest)) continue;
    const manifest = await readSmallBlob(blobs, e).catch(() => undefined);
    if (manifest && subjectOf(manifest) === digest) out.push(referrerDescriptor({ descriptor: e, manifest, blobs }));
  }
  return out;
}

/**
 * An OCI layout as a graph store: cosign tags are tags of index.json; referrers are untagged entries
 * of index.json found by their `subject` (what oras and regctl do with layouts).
 */
export class LayoutGraphStore implements GraphStore {
  constructor(readonly layout: OciLayout) {}

  get name(): string {
    return this.layout.dir;
  }

  get(ref: string): Promise<Artifact> {
    return this.layout.get(ref);
  }

  async find(tag: string): Promise<Artifact | undefined> {
    try {
      return await this.layout.get(tag);
    } catch (e) {
      if (notFound(e) || (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  put(ref: string, a: Artifact): Promise<Descriptor> {
    return this.layout.write(ref, a);
  }

  async referrers(digest: Digest): Promise<Descriptor[]> {
    let text: Buffer;
    try {
      text = await readFile(join(this.layout.dir, 'index.json'));
    } catch {
      return [];
    }
    return layoutReferrers(parseIndexJson(text, `${this.layout.dir}/index.json`).manifests, this.layout.blobs, digest);
  }

  putReferrer(a: Artifact): Promise<Descriptor> {
    return this.layout.write(a.descriptor.digest, a);
  }
}

/**
 * An oci-archive as a graph store: the tarred layout, with the layout's conventions (cosign tags as tags,
 * referrers as untagged index.json entries). Reads FILE in place; writes stage, and the archive's close() keeps them.
 */
export class ArchiveGraphStore implements GraphStore {
  constructor(readonly archive: OciArchive) {}

  get name(): string {
    return this.archive.file;
  }

  get(ref: string): Promise<Artifact> {
    return this.archive.get(ref);
  }

  async find(tag: string): Promise<Artifact | undefined> {
    try {
      return await this.archive.get(tag);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  put(ref: string, a: Artifact): Promise<Descriptor> {
    return this.archive.write(ref, a);
  }

  async referrers(digest: Digest): Promise<Descriptor[]> {
    const view = await this.archive.view();
    if (!(view instanceof TarLayout)) return new LayoutGraphStore(view).referrers(digest);
    return layoutReferrers((await view.index()).manifests, view.blobs, digest);
  }

  putReferrer(a: Artifact): Promise<Descriptor> {
    return this.archive.write(a.descriptor.digest, a);
  }
}
