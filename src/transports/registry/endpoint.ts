/** One registry API origin: authenticated requests through the retry policy, redirects followed safely. */
import { Readable } from 'node:stream';
import type { ErrorCode } from '../../oci/errors.js';
import { TokenAuthenticator, unauthorizedError } from './auth.js';
import { anySignal } from './errors.js';
import type { AuthNeed, TokenAuthenticatorOptions } from './auth.js';
import { discard, headerValue, responseError, sendWithRetry, type HttpResponse } from './http.js';

/** An endpoint is an authenticator's settings plus the origin it talks to. */
export interface EndpointOptions extends TokenAuthenticatorOptions {
  /** Origin of the API, e.g. `https://registry-1.docker.io`. */
  base: URL;
}

/**
 * What a request sends: a Buffer body may be sent again (retries, a new try after a 401); a Readable is sent once and
 * never retried.
 */
export interface EndpointInit {
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Cancels this request (besides the client's own signal). */
  signal?: AbortSignal;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * One registry API origin: every request authenticated (learning the scheme from a 401 and trying
 * again), retried when busy or reset and its body can be sent again, and GET/HEAD redirects followed
 * by hand so that Authorization never reaches another origin (object storage, a CDN).
 */
export class Endpoint {
  readonly auth: TokenAuthenticator;

  constructor(readonly o: EndpointOptions) {
    this.auth = new TokenAuthenticator(o);
  }

  get base(): URL {
    return this.o.base;
  }

  /** This endpoint with every request also cancelled by `signal` (itself when there is none). */
  withSignal(signal: AbortSignal | undefined): Endpoint {
    if (!signal) return this;
    const request = this.request.bind(this);
    const bound = Object.create(this) as Endpoint;
    bound.request = (method, path, need, init = {}) =>
      request(method, path, need, { ...init, signal: anySignal(signal, init.signal) });
    return bound;
  }

  /**
   * A request to a path (or an absolute URL, such as an upload Location) of this registry, through
   * the retry policy of `sendWithRetry`. A 401 teaches the authenticator and is sent again (twice at
   * most) without using up a try.
   */
  async request(method: string, path: string, need: AuthNeed, init: EndpointInit = {}): Promise<HttpResponse> {
    const url = new URL(path, this.o.base);
    const sameOrigin = url.origin === this.o.base.origin;
    const io = { signal: anySignal(this.o.signal, init.signal), idleTimeoutMs: this.o.idleTimeoutMs };
    let attempt = 1;
    for (let authTries = 0; ; authTries++) {
      const headers: Record<string, string> = { 'user-agent': this.o.userAgent, ...(init.headers ?? {}) };
      const authorization = sameOrigin ? await this.auth.header(need) : undefined;
      if (authorization) headers.authorization = authorization;
      const res = await sendWithRetry(
        url,
        { method, headers, body: init.body, ...io },
        this.o.dispatcher,
        this.o.retry,
        attempt,
      );
      if (res.status === 401 && sameOrigin && authTries < 2) {
        const again = await this.auth.unauthorized(res, need, authTries > 0, authorization);
        if (again && !(init.body instanceof Readable)) {
          await discard(res);
          attempt = res.attempts;
          continue;
        }
      }
      if ((method === 'GET' || method === 'HEAD') && REDIRECTS.has(res.status) && headerValue(res, 'location'))
        return this.follow(method, res, headers, io);
      return res;
    }
  }

  /** Follows up to 5 redirects; Authorization goes only to this registry's own origin. */
  private async follow(
    method: string,
    res: HttpResponse,
    sent: Record<string, string>,
    io: { signal?: AbortSignal; idleTimeoutMs?: number },
  ): Promise<HttpResponse> {
    let current = res;
    for (let hop = 0; hop < 5; hop++) {
      const location = headerValue(current, 'location');
      if (!REDIRECTS.has(current.status) || !location) return current;
      await discard(current);
      const next = new URL(location, current.url);
      const headers = { ...sent };
      if (next.origin !== this.o.base.origin) delete headers.authorization;
      current = await sendWithRetry(next, { method, headers, ...io }, this.o.dispatcher, this.o.retry);
    }
    await discard(current);
    throw new Error(`${this.o.registry} redirected ${res.url.pathname} more than 5 times`);
  }

  /** The error for an answer that is not what an operation expected, naming the fix. */
  async error(res: HttpResponse, what: string, need: AuthNeed, fallback404?: ErrorCode): Promise<Error> {
    if (res.status === 401 || res.status === 403) {
      await discard(res);
      const creds = await this.o.credentials(need.repository);
      return unauthorizedError(res.status, this.o.registry, creds, this.o.credentialsFlag, what, need.repository);
    }
    return responseError(res, what, this.o.registry, fallback404, need.repository);
  }
}
