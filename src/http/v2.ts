import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { parseDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MediaTypes } from '../oci/mediatypes.js';
import type { ManifestRead, ManifestRecord, PageResult, Registry } from '../registry/registry.js';
import { bodyLimit, contentLength } from './body.js';
import { parseRangeHeader } from './range.js';
import { canSendfile, SendfileBody } from './sendfile.js';
import { canWriteChunks, ChunksBody, isChunkSource } from './chunks-body.js';
import type { PullThrough } from './pull-through.js';
import type { V2Route } from './route.js';
import { UploadHandlers } from './v2-uploads.js';
import type { ManifestGate } from './scan-hook.js';

const API_VERSION = 'registry/2.0';

type Req = FastifyRequest;
type Rep = FastifyReply;

async function readCapped(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = contentLength(req);
  if (declared !== undefined && declared > max) {
    req.resume();
    throw new OciError('SIZE_TOO_LARGE', `manifest is larger than ${max} bytes`, { limit: max });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req) {
    total += (c as Buffer).length;
    if (total > max) {
      req.resume();
      throw new OciError('SIZE_TOO_LARGE', `manifest is larger than ${max} bytes`, { limit: max });
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks, total);
}

function pageParams(query: URLSearchParams): { n?: number; last?: string } {
  const nRaw = query.get('n');
  const last = query.get('last') ?? undefined;
  let n: number | undefined;
  if (nRaw !== null && nRaw !== '') {
    n = /^\d+$/.test(nRaw) ? Number(nRaw) : NaN;
    if (Number.isNaN(n))
      throw new OciError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, got "${nRaw.slice(0, 50)}"`);
  }
  return { n, last };
}

function setLink(reply: Rep, path: string, page: PageResult<string>, n: number | undefined): void {
  if (page.next !== null && n !== undefined) {
    reply.header('link', `<${path}?n=${n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
  }
}

/** Which stored media types the Accept header rules out (Distribution's behaviour for OCI types). */
function acceptable(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  if (types.length === 0 || types.includes('*/*') || types.includes(mediaType)) return true;
  // Docker schema2 manifests are always served; OCI types and lists only to clients that ask for them.
  return !(
    mediaType === MediaTypes.OciManifest ||
    mediaType === MediaTypes.OciIndex ||
    mediaType === MediaTypes.DockerManifestList
  );
}

/** The /v2 API: every route parses, calls one Registry method, renders. */
export class V2Handlers {
  constructor(
    private readonly registry: Registry,
    private readonly tagsPerPush: number,
    /** Send blob bodies by the native helper where it is built and the socket is plain TCP ('zero-copy': sendfile(2)). */
    private readonly sendfile: boolean | 'zero-copy' = false,
    /** With authentication on, an upload session belongs to whoever started it. */
    private readonly authenticated = false,
    /** `verify.rules`, `scan.policy`: manifests of protected repositories are served only when they pass. */
    private readonly policy?: ManifestGate,
    /** `proxy.upstreams`: reads of proxied names go through the pull-through cache. */
    private readonly pullThrough?: PullThrough,
    /** `scan.onPush`: called after each manifest PUT, before the 201. */
    private readonly onPush?: (
      repo: string,
      digest: Digest,
      bytes: Buffer,
      mediaType: string | undefined,
    ) => Promise<void>,
  ) {
    this.uploads = new UploadHandlers(registry, authenticated);
  }

  private readonly uploads: UploadHandlers;

  base(_req: Req, reply: Rep): void {
    void reply
      .header('docker-distribution-api-version', API_VERSION)
      .header('content-type', 'application/json')
      .send('{}');
  }

  async catalog(req: Req, reply: Rep): Promise<void> {
    const { n, last } = pageParams(req.kura.query);
    const caller = req.kuraCaller;
    reply.header('docker-distribution-api-version', API_VERSION);
    // Only what the caller may pull, and a Link that names only such a repository: the scan goes on
    // until n visible names are found, so hidden names never show, not even in the Link.
    const repositories: string[] = [];
    let cursor = last;
    let more = false;
    const want = n ?? Infinity;
    for (;;) {
      const size =
        n === undefined || cursor === last
          ? n
          : Math.min(this.registry.limits.pageMax, Math.max(want - repositories.length, 100));
      const page = await this.registry.listRepositories({ n: size, last: cursor });
      let i = 0;
      for (; i < page.items.length && repositories.length < want; i++) {
        const r = page.items[i]!;
        if (!caller || caller.canList(r)) repositories.push(r);
      }
      if (repositories.length >= want) {
        more = i < page.items.length || page.next !== null;
        break;
      }
      if (page.next === null || page.items.length === 0) break;
      cursor = page.items[page.items.length - 1];
    }
    if (more && n !== undefined && repositories.length > 0) {
      reply.header(
        'link',
        `</v2/_catalog?n=${n}&last=${encodeURIComponent(repositories[repositories.length - 1]!)}>; rel="next"`,
      );
    }
    void reply.header('content-type', 'application/json').send({ repositories });
  }

  async dispatch(req: Req, reply: Rep): Promise<void> {
    reply.header('docker-distribution-api-version', API_VERSION);
    const { path, query, v2: route, v2Error } = req.kura;
    if (v2Error) throw v2Error;
    if (!route) throw new OciError('NAME_UNKNOWN', `no such API route: ${req.method} ${path.slice(0, 300)}`);
    const m = req.method;
    const declared = contentLength(req.raw);
    const limit = bodyLimit(m, route, this.registry.limits);
    if (limit > 0 && declared !== undefined && declared > limit) {
      throw new OciError(
        'SIZE_TOO_LARGE',
        `the body declares ${declared} bytes; this registry accepts at most ${limit}`,
        { limit },
      );
    }
    switch (route.kind) {
      case 'manifest':
        if (m === 'GET' || m === 'HEAD') {
          const local = this.pullThrough?.route(route.repo, query.get('ns'));
          if (local !== undefined) {
            const warning = await this.pullThrough!.manifest(local, route.reference);
            if (warning) reply.header('warning', warning);
            return this.getManifest({ ...route, repo: local }, req, reply, m === 'HEAD');
          }
          return this.getManifest(route, req, reply, m === 'HEAD');
        }
        if (m === 'PUT') return this.putManifest(route, query, req, reply);
        if (m === 'DELETE') return this.deleteManifest(route, reply);
        break;
      case 'blob':
        if (m === 'GET' || m === 'HEAD') {
          const local = this.pullThrough?.route(route.repo, query.get('ns'));
          // A boolean, not the reply: a reply is thenable, and awaiting it waits until the answer is sent.
          if (local !== undefined && (await this.pullThroughBlob(local, route.digest, reply, m === 'HEAD')))
            return reply;
          return this.getBlob(local === undefined ? route : { ...route, repo: local }, req, reply, m === 'HEAD');
        }
        if (m === 'DELETE') return this.deleteBlob(route, reply);
        break;
      case 'uploads':
        if (m === 'POST') return this.uploads.start(route, query, req, reply);
        break;
      case 'upload':
        await this.uploads.checkOwner(route, req);
        if (m === 'PATCH') return this.uploads.patch(route, req, reply);
        if (m === 'PUT') return this.uploads.put(route, query, req, reply);
        if (m === 'GET') return this.uploads.status(route, reply);
        if (m === 'DELETE') return this.uploads.cancel(route, reply);
        break;
      case 'tags':
        if (m === 'GET') return this.tags(route, query, reply);
        break;
      case 'referrers':
        if (m === 'GET') return this.referrers(route, query, reply);
        break;
    }
    throw new OciError('UNSUPPORTED', `${m} is not supported on ${route.kind} routes`);
  }

  // ---- manifests ----

  private async getManifest(route: Extract<V2Route, { kind: 'manifest' }>, req: Req, reply: Rep, head: boolean) {
    const accept = req.headers.accept;
    let found: ManifestRead | ManifestRecord;
    let record: ManifestRecord;
    // A caller who may push here is not held to the pull policy: signing reads the manifest, and such a caller
    // could push anything anyway (with authentication on; an open registry holds everyone to it).
    const policy = this.authenticated && req.kuraCaller?.can(route.repo, 'push') ? undefined : this.policy;
    // Before the read, which would count a refused GET as a pull.
    if (policy?.covers(route.repo))
      await policy.check(route.repo, await this.registry.statManifest(route.repo, route.reference));
    if (head) {
      record = await this.registry.statManifest(route.repo, route.reference);
      found = record;
    } else {
      const read = await this.registry.getManifest(route.repo, route.reference);
      record = read.record;
      found = read;
    }
    if (!acceptable(accept, record.mediaType)) {
      let rewritten: ManifestRead | null = null;
      if (!route.reference.includes(':') && record.mediaType === MediaTypes.DockerManifestList) {
        // A HEAD reads the bytes without getManifest, which would count it as a pull.
        const list = head
          ? { record, bytes: await this.registry.manifestBytes(record.digest) }
          : (found as ManifestRead);
        rewritten = await this.registry.defaultPlatformChild(route.repo, list);
      }
      if (!rewritten) {
        throw new OciError(
          'MANIFEST_UNKNOWN',
          `manifest is ${record.mediaType}, which the Accept header (${(accept ?? '').slice(0, 300)}) does not allow`,
          { mediaType: record.mediaType },
        );
      }
      record = rewritten.record;
      found = rewritten;
      await policy?.check(route.repo, record);
    }
    const etag = `"${record.digest}"`;
    reply
      .header('content-type', record.mediaType)
      .header('docker-content-digest', record.digest)
      .header('etag', etag)
      .header('content-length', record.size);
    const inm = req.headers['if-none-match'];
    if (inm && inm.includes(record.digest)) {
      return reply.code(304).send();
    }
    if (head) return reply.send();
    return reply.send((found as ManifestRead).bytes);
  }

  private async putManifest(
    route: Extract<V2Route, { kind: 'manifest' }>,
    query: URLSearchParams,
    req: Req,
    reply: Rep,
  ) {
    const extraTags = query.getAll('tag');
    if (extraTags.length > this.tagsPerPush) {
      req.raw.resume();
      throw new OciError('TOO_MANY_TAGS', `at most ${this.tagsPerPush} tag parameters per request`);
    }
    const bytes = await readCapped(req.raw, this.registry.limits.manifestMaxBytes);
    const res = await this.registry.putManifest(
      route.repo,
      route.reference,
      req.headers['content-type'],
      bytes,
      extraTags,
    );
    await this.onPush?.(route.repo, res.digest, bytes, req.headers['content-type']);
    reply
      .code(201)
      .header('location', `/v2/${route.repo}/manifests/${res.digest}`)
      .header('docker-content-digest', res.digest);
    if (res.subject) reply.header('oci-subject', res.subject);
    if (extraTags.length > 0) reply.header('oci-tag', res.tags);
    return reply.header('content-length', 0).send();
  }

  private async deleteManifest(route: Extract<V2Route, { kind: 'manifest' }>, reply: Rep) {
    await this.registry.deleteManifest(route.repo, route.reference);
    return reply.code(202).header('content-length', 0).send();
  }

  // ---- blobs ----

  private async getBlob(route: Extract<V2Route, { kind: 'blob' }>, req: Req, reply: Rep, head: boolean) {
    const digest = parseDigest(route.digest);
    const size = await this.registry.statBlob(route.repo, digest);
    // registry:2's `redirect` behaviour: the client fetches the bytes (and its Range) from the store itself.
    const url = head ? null : await this.registry.blobRedirect(route.repo, digest);
    if (url !== null) return reply.code(307).header('location', url).header('docker-content-digest', digest).send();
    reply
      .header('docker-content-digest', digest)
      .header('etag', `"${digest}"`)
      .header('accept-ranges', 'bytes')
      .header('content-type', 'application/octet-stream');
    const range = parseRangeHeader(req.headers.range, size);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${size}`);
      throw new OciError('RANGE_INVALID', `range ${req.headers.range} is outside the blob's ${size} bytes`);
    }
    if (range) {
      reply
        .code(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
        .header('content-length', range.end - range.start + 1);
    } else {
      reply.header('content-length', size);
    }
    if (head) return reply.send();
    const { stream, file } = await this.registry.readBlob(route.repo, digest, range);
    if (this.sendfile && file && canSendfile(req.raw.socket))
      return reply.send(new SendfileBody(stream, file, this.sendfile === 'zero-copy'));
    return reply.send(stream);
  }

  /** A proxied blob the cache does not hold yet: answered from upstream (stored meanwhile); false when held. */
  private async pullThroughBlob(repo: string, raw: string, reply: Rep, head: boolean): Promise<boolean> {
    const digest = parseDigest(raw);
    const miss = await this.pullThrough!.blob(repo, digest, head);
    if (!miss) return false;
    reply
      .header('docker-content-digest', digest)
      .header('etag', `"${digest}"`)
      .header('content-type', 'application/octet-stream');
    if (miss.size !== undefined) reply.header('content-length', miss.size);
    // the chunks written off the event loop where the helper can (plain HTTP, `http.sendfile` on, a known length:
    // raw bytes cannot go into chunked encoding)
    const body =
      miss.stream &&
      miss.size !== undefined &&
      this.sendfile &&
      isChunkSource(miss.stream) &&
      canWriteChunks(reply.raw.socket)
        ? new ChunksBody(miss.stream)
        : miss.stream;
    void (head || !body ? reply.send() : reply.send(body));
    return true;
  }

  private async deleteBlob(route: Extract<V2Route, { kind: 'blob' }>, reply: Rep) {
    await this.registry.deleteBlob(route.repo, parseDigest(route.digest));
    return reply.code(202).header('content-length', 0).send();
  }

  // ---- discovery ----

  private async tags(route: Extract<V2Route, { kind: 'tags' }>, query: URLSearchParams, reply: Rep) {
    const { n, last } = pageParams(query);
    const page = await this.registry.listTags(route.repo, { n, last });
    setLink(reply, `/v2/${route.repo}/tags/list`, page, n);
    return reply.header('content-type', 'application/json').send({ name: route.repo, tags: page.items });
  }

  private async referrers(route: Extract<V2Route, { kind: 'referrers' }>, query: URLSearchParams, reply: Rep) {
    const digest = parseDigest(route.digest);
    const artifactType = query.get('artifactType') ?? undefined;
    const { n, last } = pageParams(query);
    // Paginated (distribution-spec: a Link header to the next page), so one answer stays small.
    const page = await this.registry.referrers(route.repo, digest, artifactType, { n, last });
    if (artifactType !== undefined) reply.header('oci-filters-applied', 'artifactType');
    if (page.next !== null) {
      const next = new URLSearchParams({
        ...(n !== undefined ? { n: String(n) } : {}),
        last: page.next,
        ...(artifactType !== undefined ? { artifactType } : {}),
      });
      reply.header('link', `</v2/${route.repo}/referrers/${digest}?${next}>; rel="next"`);
    }
    const body = {
      schemaVersion: 2,
      mediaType: MediaTypes.OciIndex,
      manifests: page.items.map((r) => ({
        mediaType: r.mediaType,
        digest: r.digest,
        size: r.size,
        ...(r.artifactType ? { artifactType: r.artifactType } : {}),
        ...(r.annotations ? { annotations: r.annotations } : {}),
      })),
    };
    // A Buffer, so that fastify adds no "; charset=utf-8" to the media type.
    return reply.header('content-type', MediaTypes.OciIndex).send(Buffer.from(JSON.stringify(body)));
  }
}
