import type { FastifyReply, FastifyRequest } from 'fastify';
import { OciError, type ErrorCode } from '../oci/errors.js';

/** HTTP status of each spec error code (distribution-spec "Error Codes" plus our own limits). */
export const STATUS: Record<ErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  SIZE_TOO_LARGE: 413,
  TOO_MANY_TAGS: 414,
  PAGINATION_NUMBER_INVALID: 400,
  UNAVAILABLE: 503,
  BAD_REQUEST: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

interface ErrorBody {
  errors: { code: string; message: string; detail?: unknown }[];
}

export function errorBody(e: OciError): ErrorBody {
  return {
    errors: [
      { code: e.code, message: e.message, detail: e.detail ?? {} },
      ...e.more.map((m) => ({ code: m.code, message: m.message, detail: m.detail ?? {} })),
    ],
  };
}

/** Fastify's own errors (bad headers, unsupported bodies) mapped onto spec codes. */
function fromFastify(err: { statusCode?: number; code?: string; message: string }): OciError | null {
  const status = err.statusCode ?? 500;
  if (status >= 500) return null;
  if (status === 413) return new OciError('SIZE_TOO_LARGE', err.message);
  if (status === 414) return new OciError('TOO_MANY_TAGS', err.message);
  if (status === 404) return new OciError('NAME_UNKNOWN', err.message);
  return new OciError('BLOB_UPLOAD_INVALID', `bad request: ${err.message}`);
}

const CLIENT_GONE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ABORT_ERR']);

/** The request failed because its client went away: the socket is gone, or the stream says so. */
function clientGone(err: unknown, request: FastifyRequest): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const socketGone = request.raw.socket?.destroyed === true || (request.raw.destroyed && !request.raw.complete);
  return socketGone || (typeof code === 'string' && CLIENT_GONE_CODES.has(code) && !request.raw.complete);
}

/** The one place where errors become HTTP: spec error JSON with the code's status. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  let oci: OciError | null = err instanceof OciError ? err : null;
  if (!oci && typeof err === 'object' && err !== null && 'statusCode' in err) {
    oci = fromFastify(err as { statusCode?: number; code?: string; message: string });
  }
  if (!oci && clientGone(err, request)) {
    // Not a fault of the server: the client hung up (or reset) while its request was in flight.
    request.log.info(
      { method: request.method, url: request.url.split('?')[0]!.slice(0, 300), reason: (err as Error)?.message },
      'client disconnected mid-request',
    );
    reply.raw.destroy();
    return;
  }
  if (!oci) {
    request.log.error({ err }, 'internal error');
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    void reply
      .code(500)
      .header('content-type', 'application/json')
      .send({
        errors: [
          { code: 'UNKNOWN', message: 'internal server error; see the server log', detail: { requestId: request.id } },
        ],
      });
    return;
  }
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.destroy();
    return;
  }
  // An error answered before the body was read: drain it, or the leftover bytes would be parsed as
  // the next request on this keep-alive connection. A body refused for its size is never read: the
  // connection closes after the answer.
  if (!request.raw.complete) {
    if (oci.code === 'SIZE_TOO_LARGE' || oci.code === 'SIZE_INVALID') reply.header('connection', 'close');
    else request.raw.resume();
  }
  const status = STATUS[oci.code];
  if (status >= 500) request.log.error({ err }, oci.message);
  void reply.code(status).header('content-type', 'application/json').send(errorBody(oci));
}
