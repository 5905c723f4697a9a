/**
 * Distribution-spec error codes. One table: the code, its HTTP status and its message double as docs.
 * Only http/ turns these into statuses; library code just throws OciError.
 */
export const ErrorCodes = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  SIZE_TOO_LARGE: { status: 413, message: 'content exceeds the size limit' },
  TOO_MANY_TAGS: { status: 414, message: 'too many tag parameters' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** A registry error with a distribution-spec code. `detail` is included in the JSON error body. */
export class OciError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** Extra errors reported in the same response (e.g. one MANIFEST_BLOB_UNKNOWN per digest). */
  readonly more: readonly { code: ErrorCode; message: string; detail?: unknown }[];
  constructor(code: ErrorCode, message?: string, detail?: unknown, more: OciError['more'] = []) {
    super(message ?? ErrorCodes[code].message);
    this.name = 'OciError';
    this.code = code;
    this.detail = detail;
    this.more = more;
  }
}

export function isOciError(e: unknown): e is OciError {
  return e instanceof OciError;
}
