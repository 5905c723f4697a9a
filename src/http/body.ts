import type { IncomingMessage } from 'node:http';
import { OciError } from '../oci/errors.js';
import type { V2Route } from './route.js';

/** The declared Content-Length; above 2^53 (no exact number in JavaScript) a 400, not "no body". */
export function contentLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new OciError(
      'SIZE_INVALID',
      `Content-Length ${v.slice(0, 40)} is not a length this registry accepts (at most 2^53 - 1)`,
    );
  }
  return n;
}

/**
 * The most bytes a request body to this route may declare (0: no limit): checked before any body
 * byte is read, and before `100 Continue` (app.ts), so an oversized upload costs nothing.
 */
export function bodyLimit(
  method: string,
  route: V2Route | null | undefined,
  limits: { blobMaxBytes: number; manifestMaxBytes: number },
): number {
  if (!route || !['POST', 'PATCH', 'PUT'].includes(method)) return 0;
  if (route.kind === 'uploads' || route.kind === 'upload') return limits.blobMaxBytes;
  if (route.kind === 'manifest') return limits.manifestMaxBytes;
  return 0;
}
