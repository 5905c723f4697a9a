/** HTTP for the registry client over node:http: one send, the retry policy, connection pools, error lines. */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { type ErrorCode, ErrorCodes } from '../../oci/errors.js';
import { readTlsFiles, type TlsFiles } from './tls.js';
import { abortReason, RegistryNetworkError, RegistryResponseError, RegistryTimeoutError } from './errors.js';
import {
  beyondRetryBudget,
  isRetryableStatus,
  isTransientNetworkError,
  networkCode,
  retryAfterMs,
  retryAfterText,
  retryDelayMs,
  type RetryOptions,
} from './retry.js';

export { RegistryNetworkError };

/** Socket inactivity after which a request fails (RegistryTimeoutError), unless a client sets its own. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** An HTTP answer: status, headers (lower-case names), a body stream that must be read or dumped. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(): Promise<void> };
  url: URL;
  /** How many tries it took. */
  attempts: number;
  /**
   * True when the answer is a retryable status (429/502/503/504) to a request that could be resent
   * and was, until its tries ran out: trying it again right away is pointless.
   */
  exhausted?: boolean;
}

/** What to send. A Readable body is sent once (it cannot be replayed); a Buffer may be sent again. */
export interface SendInit {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Cancels the request, its retry waits and the reading of its body. */
  signal?: AbortSignal;
  /** Fails the request when its connection is idle this long, answer body included (default 60 s; 0: never). */
  idleTimeoutMs?: number;
}

/** The first value of a header. */
export function headerValue(res: Pick<HttpResponse, 'headers'>, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `Link: <url>; rel="next"` → the URL, or undefined. */
export function nextLink(res: Pick<HttpResponse, 'headers'>): string | undefined {
  return /<([^>]+)>\s*;\s*rel="?next"?/.exec(headerValue(res, 'link') ?? '')?.[1];
}

/** Reads a (small) body as text, at most `limit` bytes; the rest is dropped. */
export async function bodyText(res: HttpResponse, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    if (n < limit) chunks.push(c as Buffer);
    n += (c as Buffer).length;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** Drops a body we do not need, so the connection can be used again. */
export async function discard(res: HttpResponse): Promise<void> {
  await res.body.dump().catch(() => undefined);
}

/**
 * Keep-alive connection pools for plain HTTP and for HTTPS (one per trust mode). node:http is
 * used rather than a fetch implementation: it costs nothing to load, which matters for a CLI
 * started once per image, and it streams request bodies with backpressure.
 */
export interface Dispatcher {
  http: HttpAgent;
  https: HttpsAgent;
}

const agents = new Map<string, Dispatcher>();

/**
 * One shared connection pool per trust mode: `insecure` accepts any certificate; `tls` adds CA
 * certificates (to the system's) and a client certificate, for one registry.
 */
export function dispatcherFor(insecure: boolean, tls?: TlsFiles): Dispatcher {
  const key = JSON.stringify([insecure, tls ?? null]);
  let a = agents.get(key);
  if (!a) {
    const opts = { keepAlive: true, maxSockets: 16, keepAliveMsecs: 10_000, scheduling: 'lifo' as const };
    const files = tls ? readTlsFiles(tls) : undefined;
    const trust = files?.ca.length ? { ca: [...rootCertificates, ...files.ca] } : {};
    const identity = files?.cert ? { cert: files.cert, key: files.key } : {};
    a = {
      http: new HttpAgent(opts),
      https: new HttpsAgent({ ...opts, rejectUnauthorized: !insecure, ...trust, ...identity }),
    };
    agents.set(key, a);
  }
  return a;
}

const TLS_UNTRUSTED = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME/;

/** Turns a connection error into one line that names the address and the option that fixes it. */
export function networkError(url: URL, e: unknown): RegistryNetworkError {
  if (e instanceof RegistryNetworkError) return e;
  const code = networkCode(e);
  const why = code ?? (e as Error)?.message ?? String(e);
  const registry = url.host;
  if (code && TLS_UNTRUSTED.test(code))
    return new RegistryNetworkError(`the TLS certificate of ${url.host} is not trusted (${code})`, code, e, {
      registry,
      hint: { option: 'caFile', host: url.host },
    });
  if (code === 'EPROTO' || /wrong version number|ERR_SSL/i.test(`${code} ${(e as Error)?.message}`)) {
    return new RegistryNetworkError(`${url.host} does not speak HTTPS (${why})`, code, e, {
      registry,
      hint: { option: 'plainHttp', value: true },
    });
  }
  return new RegistryNetworkError(`cannot reach ${url.origin} (${why})`, code, e, {
    registry,
    hint: url.protocol === 'http:' ? { option: 'insecure' } : { option: 'plainHttp', value: true, unreachable: true },
  });
}

/** A response body with `dump()`: read to the end and dropped, so the connection is reused. */
function withDump(res: IncomingMessage): HttpResponse['body'] {
  return Object.assign(res, {
    dump: () =>
      new Promise<void>((resolve) => {
        // Even a complete body (a HEAD's) must be read to its end before the socket goes back to the pool.
        if (res.destroyed || res.readableEnded) return resolve();
        res
          .once('end', resolve)
          .once('close', resolve)
          .once('error', () => resolve());
        res.resume();
      }),
  });
}

/**
 * One request, no retries, no redirects. Connection errors become RegistryNetworkError; a connection
 * idle for `idleTimeoutMs` (before or during the answer's body) a RegistryTimeoutError; `signal`
 * aborts the request or the body being read, with the signal's reason.
 */
export function sendOnce(url: URL, init: SendInit, dispatcher: Dispatcher): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const signal = init.signal;
    if (signal?.aborted) return reject(abortReason(signal));
    const https = url.protocol === 'https:';
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (Buffer.isBuffer(init.body) && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length'))
      headers['content-length'] = String(init.body.length);
    const idle = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    const options = {
      method: init.method,
      headers,
      agent: https ? dispatcher.https : dispatcher.http,
      ...(idle > 0 ? { timeout: idle } : {}),
    };
    let answer: IncomingMessage | undefined;
    /** Ends the exchange with `err`: the request if unanswered (rejecting), else the body being read. */
    const fail = (err: Error) => {
      if (answer) {
        if (!answer.readableEnded) answer.destroy(err);
        req.destroy();
      } else req.destroy(err);
    };
    const onAbort = () => fail(abortReason(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    const req = (https ? httpsRequest : httpRequest)(url, options, (res) => {
      answer = res;
      const h: HttpResponse['headers'] = {};
      for (const [k, v] of Object.entries(res.headers)) h[k] = v;
      // An answer before the request body ended (an early error): once the answer is read, give the
      // request a moment to end, then drop it, so no socket stays busy and holds the process open.
      res.once('end', () => {
        if (!req.writableFinished) setTimeout(() => req.writableFinished || req.destroy(), 1000).unref();
      });
      res.once('close', done);
      resolve({ status: res.statusCode ?? 0, headers: h, body: withDump(res), url, attempts: 1 });
    });
    req.on('timeout', () => fail(new RegistryTimeoutError(url, idle)));
    req.on('error', (e) => {
      if (answer) return;
      done();
      reject(e instanceof RegistryNetworkError || (signal?.aborted && e === signal.reason) ? e : networkError(url, e));
    });
    const body = init.body;
    if (body instanceof Readable) {
      // A body that failed or closed before its end would leave the request waiting for bytes forever.
      const broken = () =>
        req.destroy(body.errored ?? new Error(`the body of ${init.method} ${url.pathname} closed early`));
      body.on('error', (e) => req.destroy(e));
      if (body.destroyed || body.errored) return broken();
      body.once('close', () => {
        if (!body.readableEnded) broken();
      });
      body.pipe(req);
    } else req.end(body);
  });
}

/** True when a request may be sent again; a Readable body cannot be. */
export function canResend(init: SendInit): boolean {
  return !(init.body instanceof Readable);
}

/**
 * The one retry policy of the registry client: a request retried on 429/502/503/504 and on connection
 * resets, with backoff or the server's Retry-After, up to `retry.attempts` tries (counted from
 * `firstAttempt`, for a caller that goes on after an answer of its own, such as a 401). A Readable
 * body is sent once. The last answer is returned as it is.
 */
export async function sendWithRetry(
  url: URL,
  init: SendInit,
  dispatcher: Dispatcher,
  retry: Required<RetryOptions>,
  firstAttempt = 1,
): Promise<HttpResponse> {
  for (let attempt = firstAttempt; ; attempt++) {
    let res: HttpResponse;
    try {
      res = await sendOnce(url, init, dispatcher);
    } catch (e) {
      if (canResend(init) && attempt < retry.attempts && isTransientNetworkError(e) && !init.signal?.aborted) {
        await retry.sleep(retryDelayMs(attempt, undefined, retry), init.signal);
        continue;
      }
      throw e;
    }
    if (
      isRetryableStatus(res.status) &&
      canResend(init) &&
      attempt < retry.attempts &&
      !beyondRetryBudget(res.headers['retry-after'], retry, retry.now())
    ) {
      await discard(res);
      await retry.sleep(
        retryDelayMs(attempt, retryAfterMs(res.headers['retry-after'], retry.now()), retry),
        init.signal,
      );
      continue;
    }
    res.attempts = attempt;
    res.exhausted = canResend(init) && isRetryableStatus(res.status);
    return res;
  }
}

/** Parses a distribution-spec error body into `CODE: message` parts (or the start of the text). */
export function describeErrorBody(text: string): { codes: string[]; summary: string } {
  try {
    const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors ?? [];
    return {
      codes: errors.map((e) => String(e.code)),
      summary: errors.map((e) => `${e.code}: ${e.message}`).join('; '),
    };
  } catch {
    return { codes: [], summary: text.replace(/\s+/g, ' ').trim().slice(0, 200) };
  }
}

/** Builds the error for an unexpected answer: the code the registry gave, and what to do about it. */
export async function responseError(
  res: HttpResponse,
  what: string,
  registry: string,
  fallback404: ErrorCode = 'NAME_UNKNOWN',
  repository?: string,
): Promise<RegistryResponseError> {
  const { codes, summary } = describeErrorBody(await bodyText(res).catch(() => ''));
  const tries = res.attempts > 1 ? ` after ${res.attempts} attempts` : '';
  const where = { registry, repository, status: res.status };
  if (res.status === 429) {
    const until = retryAfterText(res.headers['retry-after']);
    const problem = `${what}: 429 Too Many Requests from ${registry}${tries}${until ? `: rate limited ${until}` : ''}`;
    return registry === 'docker.io'
      ? new RegistryResponseError('TOOMANYREQUESTS', problem, { ...where, hint: { option: 'rateLimit' } })
      : new RegistryResponseError(
          'TOOMANYREQUESTS',
          `${problem}: the registry limits requests; wait and try again`,
          where,
        );
  }
  if (res.status >= 500)
    return new RegistryResponseError(
      'UNAVAILABLE',
      `${what}: ${res.status} from ${registry}${tries}${summary ? ` (${summary})` : ''}; the registry has a ` +
        `problem, try again later`,
      where,
    );
  if (res.status === 400 && /HTTP request to an HTTPS server/i.test(summary)) {
    return new RegistryResponseError('BAD_REQUEST', `${what}: ${registry} serves HTTPS, not plain HTTP`, {
      ...where,
      hint: { option: 'plainHttp', value: false },
    });
  }
  const first = codes.find((c): c is ErrorCode => c in ErrorCodes);
  const code: ErrorCode =
    first ?? (res.status === 404 ? fallback404 : res.status === 416 ? 'RANGE_INVALID' : 'BAD_REQUEST');
  return new RegistryResponseError(code, `${what}: ${res.status} ${summary || code}`, where);
}
