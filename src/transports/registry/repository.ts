/** A registry repository as a Source and Sink: manifests by tag or digest, blobs, tags, deletes and pushes. */
import type { Readable } from 'node:stream';
import type {
  Artifact,
  BlobReader,
  Deleter,
  Descriptor,
  Sink,
  Source,
  TagLister,
  WriteOptions,
} from '../../oci/artifact.js';
import { digestAlgorithm, digestOf, isDigest, type Digest } from '../../oci/digest.js';
import { formatImageReference, type ImageReference } from '../../oci/imageref.js';
import { OverlayBlobs, MANIFEST_LIMIT } from '../../oci/blob.js';
import { OciError } from '../../oci/errors.js';
import { parseManifest } from '../../oci/manifest.js';
import { MediaTypes, isManifestMediaType } from '../../oci/mediatypes.js';
import { stripName, loadTree, treeBlobs, treeManifests } from '../../oci/tree.js';
import { scopes, type AuthNeed } from './auth.js';
import type { Endpoint, EndpointInit } from './endpoint.js';
import { bodyText, discard, headerValue, nextLink, type HttpResponse } from './http.js';
import { uploadBlob, putManifest, type Chunking } from './upload.js';
import { deleteManifest, deleteTag, type DeleteContext, type DeleteOptions } from './delete.js';

/** What every call of a repository takes: a signal that cancels it (with the client's own). */
export interface CallOptions {
  signal?: AbortSignal;
}

/** One page of a tag listing, and the path of the next (undefined on the last page). */
export interface TagPage {
  tags: string[];
  next: string | undefined;
}

/** How tags are listed page by page. */
export interface TagPageOptions extends CallOptions {
  /** Tags per page asked for (`?n=`); the registry may give fewer. */
  pageSize?: number;
  /** Start after this tag (`?last=`). */
  last?: string;
}

/** Manifest media types we ask for, most wanted first. */
export const ACCEPT = [
  MediaTypes.OciIndex,
  MediaTypes.DockerManifestList,
  MediaTypes.OciManifest,
  MediaTypes.DockerManifest,
].join(', ');

/** Optional ability of a BlobReader: the registry repository its blobs come from (for cross-repository mounts). */
export interface BlobOrigin {
  readonly origin: { registry: string; repository: string };
}

/** The registry repository a reader's blobs come from, if it says. */
export function blobOrigin(r: BlobReader): BlobOrigin['origin'] | undefined {
  const o = (r as Partial<BlobOrigin>).origin;
  return o && typeof o.registry === 'string' && typeof o.repository === 'string' ? o : undefined;
}

/** Write options of a registry: `mountFrom` names a repository of the same registry to mount blobs from. */
export interface RegistryWriteOptions extends WriteOptions {
  mountFrom?: string;
}

/** What a HEAD of a manifest tells: its descriptor and the answer's headers (rate limits, for one). */
export interface HeadResult {
  descriptor: Descriptor;
  headers: Record<string, string>;
}

function flatHeaders(res: HttpResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** A manifest reference, classified: the string the API takes, the digest if it is one, the name for messages. */
interface Target {
  ref: string;
  digest: Digest | undefined;
  name: string;
}

/** What a repository needs of its registry's client (a RegistryClient). */
export interface RegistryAccess {
  /** The registry's name (`docker.io` for Docker Hub). */
  readonly registry: string;
  /** The API origin writes go to. */
  readonly endpoint: Endpoint;
  /** Blobs moved at once by `write`, and how they are cut for upload. */
  readonly transfer: Chunking & { parallel: number };
  /** A read (GET/HEAD), through the mirrors first where there are any. */
  read(
    method: 'GET' | 'HEAD',
    path: string,
    need: AuthNeed,
    init?: EndpointInit,
  ): Promise<{ res: HttpResponse; endpoint: Endpoint }>;
}

/** A repository of a registry as a Source and a Sink of images, that can list tags and delete. */
export class RegistryRepository implements Source, Sink, TagLister, Deleter {
  readonly blobs: BlobReader & BlobOrigin;

  constructor(
    readonly client: RegistryAccess,
    readonly repo: string,
  ) {
    this.blobs = this.blobReader();
  }

  /** The repository's blobs as a reader, each read also cancelled by `signal`. */
  private blobReader(signal?: AbortSignal): BlobReader & BlobOrigin {
    return { origin: { registry: this.client.registry, repository: this.repo }, open: (d) => this.openBlob(d, signal) };
  }

  /**
   * A manifest reference of this repository. A typed ImageReference says what it is; a string (the
   * Source contract, and children named by digest) is classified here, once.
   */
  private target(ref: string | ImageReference): Target {
    if (typeof ref === 'string') return this.named(ref, isDigest(ref) ? ref : undefined);
    if (ref.repository !== this.repo)
      throw new Error(`${formatImageReference(ref)} is not in ${this.client.registry}/${this.repo}`);
    return this.named(ref.digest ?? ref.tag ?? 'latest', ref.digest);
  }

  private named(ref: string, digest: Digest | undefined): Target {
    return { ref, digest, name: `${this.client.registry}/${this.repo}${digest ? '@' : ':'}${ref}` };
  }

  private async openBlob(d: Descriptor, signal?: AbortSignal): Promise<Readable> {
    const kind = isManifestMediaType(d.mediaType) ? 'manifests' : 'blobs';
    const need: AuthNeed = { scopes: scopes.pull(this.repo), repository: this.repo };
    const { res, endpoint } = await this.client.read('GET', `/v2/${this.repo}/${kind}/${d.digest}`, need, {
      headers: kind === 'manifests' ? { accept: ACCEPT } : {},
      signal,
    });
    if (res.status !== 200)
      throw await endpoint.error(
        res,
        `GET ${this.client.registry}/${this.repo} ${d.digest}`,
        need,
        kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN',
      );
    return res.body;
  }

  /**
   * The manifest named by a tag or digest, byte-exact; a digest is checked against the bytes. With a
   * `signal`, the artifact's blob reads are cancelled by it too.
   */
  async get(ref: string | ImageReference, opts: CallOptions = {}): Promise<Artifact> {
    const t = this.target(ref);
    const need: AuthNeed = { scopes: scopes.pull(this.repo), repository: this.repo };
    const { res, endpoint } = await this.client.read('GET', `/v2/${this.repo}/manifests/${t.ref}`, need, {
      headers: { accept: ACCEPT },
      signal: opts.signal,
    });
    if (res.status !== 200) throw await endpoint.error(res, t.name, need, 'MANIFEST_UNKNOWN');
    const length = Number(headerValue(res, 'content-length') ?? 0);
    if (length > MANIFEST_LIMIT) {
      await discard(res);
      throw new OciError('SIZE_INVALID', `${t.name}: the manifest is ${length} bytes, more than ${MANIFEST_LIMIT}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > MANIFEST_LIMIT) {
        res.body.destroy();
        throw new OciError('SIZE_INVALID', `${t.name}: the manifest is more than ${MANIFEST_LIMIT} bytes`);
      }
      chunks.push(c as Buffer);
    }
    const manifest = Buffer.concat(chunks);
    const digest = t.digest ? digestOf(manifest, digestAlgorithm(t.digest)) : digestOf(manifest);
    if (t.digest && digest !== t.digest)
      throw new OciError('DIGEST_INVALID', `${t.name}: the registry sent a manifest whose digest is ${digest}`);
    let mediaType = (headerValue(res, 'content-type') ?? '').split(';')[0]!.trim();
    if (!mediaType || mediaType === 'application/json' || mediaType === 'text/plain') {
      // No usable Content-Type: the manifest's own mediaType field, else a guess from its shape.
      mediaType = parseManifest(manifest, undefined, { what: `${t.name}: the manifest` }).mediaType;
    }
    const blobs = opts.signal ? this.blobReader(opts.signal) : this.blobs;
    return { descriptor: { mediaType, digest, size: manifest.length }, manifest, blobs };
  }

  /**
   * HEAD of a manifest: descriptor and headers (`ratelimit-limit`, `ratelimit-remaining`, `docker-ratelimit-source`).
   */
  async head(ref: string | ImageReference, opts: CallOptions = {}): Promise<HeadResult> {
    const t = this.target(ref);
    const need: AuthNeed = { scopes: scopes.pull(this.repo), repository: this.repo };
    const { res, endpoint } = await this.client.read('HEAD', `/v2/${this.repo}/manifests/${t.ref}`, need, {
      headers: { accept: ACCEPT },
      signal: opts.signal,
    });
    if (res.status !== 200) throw await endpoint.error(res, t.name, need, 'MANIFEST_UNKNOWN');
    await discard(res);
    const headers = flatHeaders(res);
    const digest = headers['docker-content-digest'];
    const mediaType = (headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!digest || !isDigest(digest) || !mediaType || (t.digest && digest !== t.digest)) {
      // Some registries leave the digest out of a HEAD: the manifest itself says.
      return { descriptor: (await this.get(ref, opts)).descriptor, headers };
    }
    return { descriptor: { mediaType, digest, size: Number(headers['content-length'] ?? 0) }, headers };
  }

  /** Every tag, following `Link` pages (of `pageSize` tags, if given). */
  async tags(pageSize?: number, opts: CallOptions = {}): Promise<string[]> {
    const out: string[] = [];
    for await (const page of this.tagPages({ ...opts, pageSize })) out.push(...page.tags);
    return out;
  }

  /**
   * The tags page by page (`GET /v2/NAME/tags/list?n=&last=`, then each `Link: rel="next"`): stop
   * iterating to stop asking. `next` is the path of the following page, undefined on the last.
   */
  async *tagPages(opts: TagPageOptions = {}): AsyncGenerator<TagPage, void, undefined> {
    const need: AuthNeed = { scopes: scopes.pull(this.repo), repository: this.repo };
    const q = new URLSearchParams();
    if (opts.pageSize) q.set('n', String(opts.pageSize));
    if (opts.last) q.set('last', opts.last);
    const ep = this.client.endpoint.withSignal(opts.signal);
    for (
      let path: string | undefined = `/v2/${this.repo}/tags/list${q.size ? `?${q}` : ''}`, page = 0;
      path && page < 10_000;
      page++
    ) {
      const res = await ep.request('GET', path, need);
      if (res.status !== 200) throw await ep.error(res, `tags of ${this.client.registry}/${this.repo}`, need);
      const next = nextLink(res);
      const tags = (JSON.parse(await bodyText(res, 64 << 20)) as { tags?: string[] | null }).tags ?? [];
      yield { tags, next };
      path = next;
    }
  }

  private deleting(signal?: AbortSignal): DeleteContext {
    return {
      endpoint: this.client.endpoint.withSignal(signal),
      registry: this.client.registry,
      repo: this.repo,
      digestOf: async (tag) =>
        (await this.head({ registry: this.client.registry, repository: this.repo, tag }, { signal })).descriptor.digest,
    };
  }

  /**
   * Deletes a tag, and only that tag: other tags of the same image stay. Where the registry cannot
   * delete a tag (Distribution 2.x), the tag is moved to a throw-away manifest and that is deleted
   * (regclient's way), which needs push and delete rights. `{ widen: true }` deletes the manifest the
   * tag names instead, with every tag of it (skopeo's way). A digest deletes that manifest, as
   * `deleteManifest` does.
   */
  async delete(ref: string | ImageReference, opts: DeleteOptions = {}): Promise<void> {
    const t = this.target(ref);
    if (t.digest) return this.deleteManifest(t.digest, opts);
    return deleteTag(this.deleting(opts.signal), t.ref, opts);
  }

  /** Deletes a manifest by digest, and with it every tag that names it. */
  async deleteManifest(digest: Digest | string, opts: CallOptions = {}): Promise<void> {
    if (!isDigest(digest)) throw new OciError('DIGEST_INVALID', `"${String(digest).slice(0, 200)}" is not a digest`);
    return deleteManifest(this.deleting(opts.signal), digest, `${this.client.registry}/${this.repo}@${digest}`);
  }

  /**
   * Copies every blob (HEAD first: present ones are skipped; mounted from `mountFrom`, or from the
   * repository of this registry the blob's source names), `parallel` at a time, then child manifests,
   * then the root as `ref`. A blob another write of this repository is already moving is waited for,
   * not sent again (`copy --all-tags` with several tags on one image), and reported once.
   */
  async write(ref: string | ImageReference, artifact: Artifact, opts: RegistryWriteOptions = {}): Promise<Descriptor> {
    const t = this.target(ref);
    opts.signal?.throwIfAborted();
    await (this.pushChecked ??= this.checkPush()).catch((e: unknown) => {
      this.pushChecked = undefined;
      throw e;
    });
    const tree = await loadTree(artifact);
    const queue = treeBlobs(tree);
    const ctx = {
      endpoint: this.client.endpoint.withSignal(opts.signal),
      repo: this.repo,
      chunking: this.client.transfer,
      onProgress: opts.onProgress,
      signal: opts.signal,
    };
    let failed = false;
    await Promise.all(
      Array.from({ length: Math.max(1, this.client.transfer.parallel) }, async () => {
        for (let d = queue.shift(); d && !failed; d = queue.shift()) {
          const blob = d;
          let moving = this.moving.get(blob.digest);
          if (!moving) {
            moving = uploadBlob(
              { ...ctx, mountFrom: opts.mountFrom ?? this.mountSource(artifact.blobs, blob) },
              blob,
              artifact.blobs,
            );
            this.moving.set(blob.digest, moving);
            // A failed upload may be tried again by a later write.
            moving.catch(() => this.moving.delete(blob.digest));
          }
          await moving.catch((e: unknown) => {
            failed = true;
            throw e;
          });
        }
      }),
    );
    for (const m of treeManifests(tree)) {
      const root = m.descriptor.digest === artifact.descriptor.digest;
      await putManifest(ctx, root ? t.ref : m.descriptor.digest, m.descriptor, m.manifest);
    }
    return stripName(artifact.descriptor);
  }

  private pushChecked: Promise<void> | undefined;

  /**
   * Fails before anything is sent when we may not push here (a pull-only account would otherwise
   * learn it at the manifest, after every blob was found or mounted): a cheap probe, an upload
   * started and at once cancelled.
   */
  private async checkPush(): Promise<void> {
    const need: AuthNeed = { scopes: scopes.push(this.repo), repository: this.repo };
    const ep = this.client.endpoint;
    const res = await ep.request('POST', `/v2/${this.repo}/blobs/uploads/`, need, { body: Buffer.alloc(0) });
    // Refused, or busy past the retries (an upload would meet the same): fail now. Other answers leave it to the
    // upload.
    if (res.status === 401 || res.status === 403 || res.exhausted)
      throw await ep.error(res, `push to ${this.client.registry}/${this.repo}`, need);
    const location = headerValue(res, 'location');
    await discard(res);
    if (res.status === 202 && location) {
      const cancelled = await ep.request('DELETE', location, need).catch(() => undefined);
      if (cancelled) await discard(cancelled);
    }
  }

  /** Blobs this repository object has moved or is moving, by digest. */
  private readonly moving = new Map<string, Promise<void>>();

  /**
   * Another repository of this registry that holds `d`, as its reader says (per blob, for an index made of several
   * sources).
   */
  private mountSource(reader: BlobReader, d: Descriptor): string | undefined {
    const holder =
      reader instanceof OverlayBlobs
        ? (reader.routes.get(d.digest) ?? (reader.fallbacks.length === 1 ? reader.fallbacks[0] : undefined))
        : reader;
    const origin = holder && blobOrigin(holder);
    return origin && origin.registry === this.client.registry && origin.repository !== this.repo
      ? origin.repository
      : undefined;
  }
}
