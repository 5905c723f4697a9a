/** HTTP for the registry client over node:http: one send, the retry policy, connection pools, error lines. */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { OciError, type ErrorCode, ErrorCodes } from '../../oci/errors.js';
import { readTlsFiles, type TlsFiles } from './tls.js';
import {
  beyondRetryBudget,
  isRetryableStatus,
  isTransientNetworkError,
  networkCode,
  retryAfterMs,
  retryAfterText,
  retryDelayMs,
  sleep,
  type RetryOptions,
} from './retry.js';

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

/** A connection-level failure, with the error code kept for retry decisions. */
export class RegistryNetworkError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = 'RegistryNetworkError';
  }
}

/** Turns a connection error into one line that names the address and the fix. */
export function networkError(url: URL, e: unknown): RegistryNetworkError {
  if (e instanceof RegistryNetworkError) return e;
  const code = networkCode(e);
  const why = code ?? (e as Error)?.message ?? String(e);
  let msg: string;
  if (code && TLS_UNTRUSTED.test(code)) {
    msg =
      `the TLS certificate of ${url.host} is not trusted (${code}); trust its CA with --ca-file FILE or ` +
      `certs.d/${url.host}/ca.crt (KURA_CERTS_D, /etc/containers/certs.d, /etc/docker/certs.d), or use --insecure ` +
      `to accept it anyway`;
  } else if (code === 'EPROTO' || /wrong version number|ERR_SSL/i.test(`${code} ${(e as Error)?.message}`)) {
    msg = `${url.host} does not speak HTTPS (${why}); use --plain-http for a registry without TLS`;
  } else {
    const hint =
      url.protocol === 'http:'
        ? 'check the address; if it serves HTTPS, use --insecure'
        : 'check the address, and use --plain-http for a registry without TLS';
    msg = `cannot reach ${url.origin} (${why}); ${hint}`;
  }
  return new RegistryNetworkError(msg, code, e);
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

/** One request, no retries, no redirects. Connection errors become RegistryNetworkError. */
export function sendOnce(url: URL, init: SendInit, dispatcher: Dispatcher): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const https = url.protocol === 'https:';
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (Buffer.isBuffer(init.body) && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length'))
      headers['content-length'] = String(init.body.length);
    const options = { method: init.method, headers, agent: https ? dispatcher.https : dispatcher.http };
    let answered = false;
    const req = (https ? httpsRequest : httpRequest)(url, options, (res) => {
      answered = true;
      const h: HttpResponse['headers'] = {};
      for (const [k, v] of Object.entries(res.headers)) h[k] = v;
      // An answer before the request body ended (an early error): once the answer is read, give the
      // request a moment to end, then drop it, so no socket stays busy and holds the process open.
      res.once('end', () => {
        if (!req.writableFinished) setTimeout(() => req.writableFinished || req.destroy(), 1000).unref();
      });
      resolve({ status: res.statusCode ?? 0, headers: h, body: withDump(res), url, attempts: 1 });
    });
    req.on('error', (e) => {
      if (!answered) reject(networkError(url, e));
    });
    const body = init.body;
    if (body instanceof Readable) {
      body.on('error', (e) => req.destroy(e));
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
      if (canResend(init) && attempt < retry.attempts && isTransientNetworkError(e)) {
        await sleep(retryDelayMs(attempt, undefined, retry));
        continue;
      }
      throw e;
    }
    if (
      isRetryableStatus(res.status) &&
      canResend(init) &&
      attempt < retry.attempts &&
      !beyondRetryBudget(res.headers['retry-after'], retry)
    ) {
      await discard(res);
      await sleep(retryDelayMs(attempt, retryAfterMs(res.headers['retry-after']), retry));
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
): Promise<Error> {
  const { codes, summary } = describeErrorBody(await bodyText(res).catch(() => ''));
  const tries = res.attempts > 1 ? ` after ${res.attempts} attempts` : '';
  if (res.status === 429) {
    const hub = registry === 'docker.io';
    const fix = hub
      ? 'Docker Hub limits pulls; run "kura ratelimit" to see what is left, log in (kura login) for a higher limit, ' +
        'or use a registry mirror'
      : 'the registry limits requests; wait and try again';
    const until = retryAfterText(res.headers['retry-after']);
    return new OciError(
      'TOOMANYREQUESTS',
      `${what}: 429 Too Many Requests from ${registry}${tries}${until ? `: rate limited ${until}` : ''}: ${fix}`,
    );
  }
  if (res.status >= 500)
    return new OciError(
      'UNAVAILABLE',
      `${what}: ${res.status} from ${registry}${tries}${summary ? ` (${summary})` : ''}; the registry has a ` +
        `problem, try again later`,
    );
  if (res.status === 400 && /HTTP request to an HTTPS server/i.test(summary)) {
    return new OciError(
      'BAD_REQUEST',
      `${what}: ${registry} serves HTTPS, not plain HTTP; drop --plain-http, or use --insecure for a self-signed ` +
        `certificate`,
    );
  }
  const first = codes.find((c): c is ErrorCode => c in ErrorCodes);
  const code: ErrorCode =
    first ?? (res.status === 404 ? fallback404 : res.status === 416 ? 'RANGE_INVALID' : 'BAD_REQUEST');
  return new OciError(code, `${what}: ${res.status} ${summary || code}`);
}
