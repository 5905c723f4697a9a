/**
 * Distribution-spec error codes and their default messages; the table doubles as docs.
 * Library code throws OciError; only http/ maps codes to statuses (http/errors.ts).
 */
export const ErrorCodes = {
  BLOB_UNKNOWN: { message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { message: 'manifest unknown to registry' },
  NAME_INVALID: { message: 'invalid repository name' },
  NAME_UNKNOWN: { message: 'repository name not known to registry' },
  SIZE_INVALID: { message: 'provided length did not match content length' },
  TAG_INVALID: { message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { message: 'authentication required' },
  DENIED: { message: 'requested access to the resource is denied' },
  UNSUPPORTED: { message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { message: 'too many requests' },
  RANGE_INVALID: { message: 'requested range not satisfiable' },
  SIZE_TOO_LARGE: { message: 'content exceeds the size limit' },
  TOO_MANY_TAGS: { message: 'too many tag parameters' },
  PAGINATION_NUMBER_INVALID: { message: 'invalid number of results requested' },
  UNAVAILABLE: { message: 'service unavailable' },
  BAD_REQUEST: { message: 'bad request' },
  UNSUPPORTED_MEDIA_TYPE: { message: 'unsupported media type' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** Marks an OciError: registered, so every copy of this module agrees (see OciError's instanceof). */
const OCI_ERROR = Symbol.for('ocikura.OciError');

/**
 * A registry error with a distribution-spec code. `detail` is included in the JSON error body.
 * `instanceof OciError` holds for an OciError from any copy of this module: `ocikura` is one bundled
 * file, and its subpaths (`ocikura/server`, `/signing`, …) load their own copy of the model.
 */
export class OciError extends Error {
  static override [Symbol.hasInstance](x: unknown): boolean {
    if (this !== OciError) return Function.prototype[Symbol.hasInstance].call(this, x);
    return typeof x === 'object' && x !== null && (x as { [OCI_ERROR]?: unknown })[OCI_ERROR] === true;
  }
  declare readonly [OCI_ERROR]: true;
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
    Object.defineProperty(this, OCI_ERROR, { value: true });
  }
}

export function isOciError(e: unknown): e is OciError {
  return e instanceof OciError;
}
