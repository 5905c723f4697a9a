/** The /v2 upload routes: start (with mount and monolithic variants), chunks, close, status, cancel. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { isSupportedAlgorithm, parseDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { isRepositoryName } from '../oci/names.js';
import type { Registry } from '../registry/registry.js';
import { contentLength } from './body.js';
import { parseContentRange } from './range.js';
import type { V2Route } from './route.js';

type Req = FastifyRequest;
type Rep = FastifyReply;

/** True when the request carries a body (a length above 0 or chunked transfer encoding). */
function hasBody(req: IncomingMessage): boolean {
  const len = contentLength(req);
  return (len !== undefined && len > 0) || req.headers['transfer-encoding'] !== undefined;
}

/** Who an upload session belongs to: the signed-in name, else the client address. */
function ownerOf(req: Req): string {
  return req.kuraCaller?.who ? `user:${req.kuraCaller.who}` : `addr:${req.ip}`;
}

/** Location, UUID and `Range: 0-<last byte>` of an upload session (no "bytes=" prefix, as the spec has it). */
function uploadProgress(reply: Rep, repo: string, id: string, offset: number): Rep {
  return reply
    .header('location', `/v2/${repo}/blobs/uploads/${id}`)
    .header('docker-upload-uuid', id)
    .header('range', `0-${Math.max(offset - 1, 0)}`);
}

export function blobCreated(reply: Rep, repo: string, digest: Digest) {
  return reply
    .code(201)
    .header('location', `/v2/${repo}/blobs/${digest}`)
    .header('docker-content-digest', digest)
    .header('content-length', 0)
    .send();
}

export class UploadHandlers {
  constructor(
    private readonly registry: Registry,
    /** With authentication on, an upload session belongs to whoever started it. */
    private readonly authenticated: boolean,
  ) {}

  async start(route: Extract<V2Route, { kind: 'uploads' }>, query: URLSearchParams, req: Req, reply: Rep) {
    const mount = query.get('mount');
    const from = query.get('from');
    if (mount !== null) {
      const digest = parseDigest(mount);
      // An unusable `from` is not an error: like Distribution, fall back to a normal upload.
      // Mount only from where the caller may pull: otherwise a normal upload, leaking nothing.
      const mayPull = (r: string) => req.kuraCaller?.can(r, 'pull') ?? true;
      const usable = from !== null && isRepositoryName(from) && mayPull(from);
      const mounted = usable
        ? await this.registry.mountBlob(route.repo, from!, digest)
        : await this.registry.mountDiscovered(route.repo, digest, mayPull);
      if (mounted) {
        req.raw.resume();
        return blobCreated(reply, route.repo, digest);
      }
    }
    const digestParam = query.get('digest');
    if (digestParam !== null) {
      const digest = parseDigest(digestParam);
      await this.registry.monolithicUpload(route.repo, digest, req.raw, contentLength(req.raw));
      return blobCreated(reply, route.repo, digest);
    }
    req.raw.resume();
    const alg = query.get('digest-algorithm') ?? 'sha256';
    if (!isSupportedAlgorithm(alg))
      throw new OciError('DIGEST_INVALID', `unsupported digest algorithm "${alg.slice(0, 50)}"`);
    const rec = await this.registry.startUpload(route.repo, alg, ownerOf(req));
    return uploadProgress(reply.code(202).header('content-length', 0), route.repo, rec.id, 0).send();
  }

  /**
   * With authentication on, only whoever started an upload session may use it (security audit L2);
   * to anyone else it does not exist.
   */
  async checkOwner(route: Extract<V2Route, { kind: 'upload' }>, req: Req): Promise<void> {
    if (!this.authenticated) return;
    const rec = await this.registry.getUpload(route.repo, route.id);
    if (rec.owner !== null && rec.owner !== ownerOf(req)) {
      req.raw.resume();
      throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${route.id} unknown`, { uuid: route.id });
    }
  }

  private chunkRange(req: Req) {
    const cr = parseContentRange(req.headers['content-range']);
    if (cr === 'invalid') {
      req.raw.resume();
      throw new OciError(
        'RANGE_INVALID',
        `invalid Content-Range "${String(req.headers['content-range']).slice(0, 100)}" (use START-END, inclusive)`,
      );
    }
    return cr;
  }

  async patch(route: Extract<V2Route, { kind: 'upload' }>, req: Req, reply: Rep) {
    const range = this.chunkRange(req);
    const offset = await this.registry.patchUpload(route.repo, route.id, req.raw, range, contentLength(req.raw));
    return uploadProgress(reply.code(202).header('content-length', 0), route.repo, route.id, offset).send();
  }

  async put(route: Extract<V2Route, { kind: 'upload' }>, query: URLSearchParams, req: Req, reply: Rep) {
    const digestParam = query.get('digest');
    if (digestParam === null) {
      req.raw.resume();
      throw new OciError('DIGEST_INVALID', 'the digest query parameter is required to close an upload');
    }
    const digest: Digest = parseDigest(digestParam);
    const range = this.chunkRange(req);
    const body = hasBody(req.raw) ? req.raw : undefined;
    if (!body) req.raw.resume();
    await this.registry.completeUpload(
      route.repo,
      route.id,
      digest,
      body,
      range,
      body ? contentLength(req.raw) : undefined,
    );
    return blobCreated(reply, route.repo, digest);
  }

  async status(route: Extract<V2Route, { kind: 'upload' }>, reply: Rep) {
    const rec = await this.registry.getUpload(route.repo, route.id);
    return uploadProgress(reply.code(204), route.repo, route.id, rec.offset).send();
  }

  async cancel(route: Extract<V2Route, { kind: 'upload' }>, reply: Rep) {
    await this.registry.cancelUpload(route.repo, route.id);
    return reply.code(204).send();
  }
}
