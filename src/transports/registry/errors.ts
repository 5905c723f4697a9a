/**
 * Typed errors of the registry client: what failed (spec code, HTTP status, registry, repository)
 * and a `hint` naming the client option that fixes it. Messages word the fix as library options
 * (`set insecure: true`); an application words it its own way (the CLI names its flags) with `fixWith`.
 */
import { OciError, type ErrorCode } from '../../oci/errors.js';

/** The client option that fixes an error, for the caller to word in its own terms. */
export type RegistryHint =
  /** HTTPS with a certificate nobody trusts: trust its CA (`caFile`, certs.d) or set `insecure`. */
  | { option: 'caFile'; host: string }
  /** Plain HTTP talked to an HTTPS server (or TLS to nothing): `insecure: true` for HTTPS. */
  | { option: 'insecure' }
  /**
   * `plainHttp: true` for a registry without TLS (`unreachable`: nothing answered, so check the address
   * too); `value: false` when it was set and the registry speaks HTTPS.
   */
  | { option: 'plainHttp'; value: boolean; unreachable?: boolean }
  /**
   * Credentials missing, refused (401) or not allowed (403). `flag` is the client's `credentialsFlag`,
   * the place the caller said the credentials came from.
   */
  | { option: 'credentials'; registry: string; situation: 'missing' | 'refused' | 'forbidden'; flag?: string }
  /** Docker Hub's pull limit: authenticate, or read through a mirror. */
  | { option: 'rateLimit' }
  /** A tag delete that can only go by deleting the manifest: `{ widen: true }`. */
  | { option: 'widen' }
  /** A registry that went silent: `idleTimeoutMs` if it is only slow. */
  | { option: 'idleTimeoutMs' };

/** Words the fix of a hint (the part of a message after the last `; `). */
export type FixWording = (hint: RegistryHint) => string;

/** The fix in a library caller's terms: the RegistryClient option to set. */
export const libraryFix: FixWording = (h) => {
  switch (h.option) {
    case 'caFile':
      return (
        `trust its CA with caFile: PATH or certs.d/${h.host}/ca.crt (KURA_CERTS_D, /etc/containers/certs.d, ` +
        `/etc/docker/certs.d), or set insecure: true to accept it anyway`
      );
    case 'insecure':
      return 'check the address; if it serves HTTPS, set insecure: true';
    case 'plainHttp':
      if (!h.value) return 'set plainHttp: false, or insecure: true for a self-signed certificate';
      return `${h.unreachable ? 'check the address, and ' : ''}set plainHttp: true for a registry without TLS`;
    case 'credentials':
      if (h.flag)
        return h.situation === 'forbidden'
          ? `ask for access, or pass another account with ${h.flag}`
          : `check ${h.flag}`;
      return h.situation === 'missing'
        ? 'pass credentials (or a keychain that has them)'
        : h.situation === 'refused'
          ? 'pass the right credentials'
          : 'ask for access, or pass the credentials of another account';
    case 'rateLimit':
      return 'Docker Hub limits pulls; pass credentials for a higher limit, or read through mirrors';
    case 'widen':
      return 'pass { widen: true } to delete the manifest, and every tag of it, anyway';
    case 'idleTimeoutMs':
      return 'the registry is stuck or unreachable; raise idleTimeoutMs if it is only slow';
  }
};

/** What every error of the client can tell besides its message. */
export interface RegistryErrorInfo {
  /** The registry (`host[:port]`, `docker.io`). */
  readonly registry?: string;
  readonly repository?: string;
  /** The HTTP status of the answer, when there was one. */
  readonly status?: number;
  readonly hint?: RegistryHint;
  /** The message without its fix (what `fixWith` words the rest of). */
  readonly problem?: string;
  /** What stands between problem and fix (`; `, or `: ` where the fix reads as the problem's end). */
  readonly joiner?: string;
}

/** The message of an error whose fix another wording names: `problem; fix`. */
export function fixWith(e: RegistryErrorInfo & { message: string }, words: FixWording): string {
  return e.hint && e.problem !== undefined ? `${e.problem}${e.joiner ?? '; '}${words(e.hint)}` : e.message;
}

/** The first error in `e` and its causes that carries a hint. */
export function hintedError(e: unknown): (Error & RegistryErrorInfo) | undefined {
  for (let x = e as (Error & RegistryErrorInfo & { cause?: unknown }) | undefined, i = 0; x && i < 5; i++) {
    if (x instanceof Error && x.hint && x.problem !== undefined) return x;
    x = x.cause as typeof x;
  }
  return undefined;
}

interface Where {
  registry?: string;
  repository?: string;
  status?: number;
  hint?: RegistryHint;
  joiner?: string;
}

/** `problem; fix` in library wording, or the problem alone. */
function message(problem: string, w: Where): string {
  return w.hint ? `${problem}${w.joiner ?? '; '}${libraryFix(w.hint)}` : problem;
}

/** A connection-level failure, with the error code kept for retry decisions (`ECONNREFUSED`, `EPROTO`, …). */
export class RegistryNetworkError extends Error implements RegistryErrorInfo {
  readonly registry?: string;
  readonly hint?: RegistryHint;
  readonly problem?: string;
  readonly joiner?: string;
  constructor(
    problem: string,
    readonly code: string | undefined,
    override readonly cause: unknown,
    where: Where = {},
  ) {
    super(message(problem, where));
    this.name = 'RegistryNetworkError';
    this.registry = where.registry;
    this.hint = where.hint;
    if (where.hint) [this.problem, this.joiner] = [problem, where.joiner];
  }
}

/**
 * A connection that sent nothing for `idleTimeoutMs` (code `IDLE_TIMEOUT`): a registry that accepts
 * and never answers, or stops in the middle of a body. Not retried: the wait was already long.
 */
export class RegistryTimeoutError extends RegistryNetworkError {
  constructor(
    readonly url: URL,
    readonly idleTimeoutMs: number,
  ) {
    super(`${url.host} sent nothing for ${idleTimeoutMs} ms (${url.pathname})`, 'IDLE_TIMEOUT', undefined, {
      registry: url.host,
      hint: { option: 'idleTimeoutMs' },
    });
    this.name = 'RegistryTimeoutError';
  }
}

/** An answer the client did not expect: the registry's spec code (or one for the status), the status, where. */
export class RegistryResponseError extends OciError implements RegistryErrorInfo {
  readonly status?: number;
  readonly registry?: string;
  readonly repository?: string;
  readonly hint?: RegistryHint;
  readonly problem?: string;
  readonly joiner?: string;
  constructor(code: ErrorCode, problem: string, where: Where = {}) {
    super(code, message(problem, where));
    this.name = 'RegistryResponseError';
    this.status = where.status;
    this.registry = where.registry;
    this.repository = where.repository;
    this.hint = where.hint;
    if (where.hint) [this.problem, this.joiner] = [problem, where.joiner];
  }
}

/** The registry refused who we are (401) or what we asked (403); code `UNAUTHORIZED` or `DENIED`. */
export class UnauthorizedError extends RegistryResponseError {
  constructor(status: number, problem: string, where: Where = {}) {
    super(status === 403 ? 'DENIED' : 'UNAUTHORIZED', problem, { ...where, status });
    this.name = 'UnauthorizedError';
  }
}

/** The error a cancelled call rejects with: the signal's reason when it is an Error, else an AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new DOMException(typeof r === 'string' ? r : 'the operation was aborted', 'AbortError');
}

/** Both signals (either aborts the result), or the one given. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const set = signals.filter((s): s is AbortSignal => s !== undefined);
  if (set.length <= 1) return set[0];
  if (typeof AbortSignal.any === 'function') return AbortSignal.any(set);
  // Node before 20.3: the first abort wins, by hand.
  const c = new AbortController();
  for (const s of set) {
    if (s.aborted) return AbortSignal.abort(s.reason);
    s.addEventListener('abort', () => c.abort(s.reason), { once: true });
  }
  return c.signal;
}
