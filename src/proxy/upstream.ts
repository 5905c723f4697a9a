/**
 * One upstream registry as the cache sees it: the registry client (token flow, TLS) with no retries of its own,
 * behind a circuit breaker and a token bucket, recording the upstream's `RateLimit-*` headers.
 */
import type { Readable } from 'node:stream';
import { digestAlgorithm, digestOf, isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import {
  ACCEPT,
  RegistryClient,
  RegistryNetworkError,
  bodyText,
  discard,
  headerValue,
  retryAfterMs,
  scopes,
  type HttpResponse,
} from '../transports/registry/index.js';
import { CircuitBreaker, TokenBucket } from './guards.js';
import type { UpstreamOptions } from './options.js';

/** The upstream could not answer now (down, 429, 5xx, breaker open, budget spent): cached content may serve. */
export class UpstreamUnavailableError extends OciError {
  constructor(
    readonly upstream: string,
    readonly reason: string,
    readonly retryAfterMs?: number,
    code: 'UNAVAILABLE' | 'TOOMANYREQUESTS' = 'UNAVAILABLE',
  ) {
    super(code, `upstream ${upstream} is unavailable (${reason}); try again later`);
    this.name = 'UpstreamUnavailableError';
  }
}

/** A manifest as the upstream sent it: bytes byte-exact, its media type and digest. */
export interface UpstreamManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** What the admin API shows of an upstream. */
export interface UpstreamStatus {
  name: string;
  url: string;
  prefix: string;
  breaker: string;
  retryAt: string | null;
  budget: { limit: number; left: number } | null;
  /** The upstream's own `RateLimit-*` headers, last seen (Docker Hub: "pulls left"). */
  rateLimit: { limit: string; remaining: string; source?: string; at: string } | null;
  requests: number;
  failures: number;
  /** Requests by outcome: ok, not_found, refused (another 4xx), unavailable, rate_limited, breaker_open, budget_spent. */
  outcomes: Record<UpstreamOutcome, number>;
  /** Blob bytes read from the upstream. */
  bytes: number;
}

export type UpstreamOutcome =
  | 'ok'
  | 'not_found'
  | 'refused'
  | 'unavailable'
  | 'rate_limited'
  | 'breaker_open'
  | 'budget_spent';

const MANIFEST_MAX = 4 * 1024 * 1024;

export class Upstream {
  readonly client: RegistryClient;
  readonly breaker: CircuitBreaker;
  readonly bucket: TokenBucket | undefined;
  private rateLimit: UpstreamStatus['rateLimit'] = null;
  private requests = 0;
  private failures = 0;
  private bytes = 0;
  private readonly outcomes: Record<UpstreamOutcome, number> = {
    ok: 0,
    not_found: 0,
    refused: 0,
    unavailable: 0,
    rate_limited: 0,
    breaker_open: 0,
    budget_spent: 0,
  };
  /** What the last failure was, for the answer while the breaker is open (429 stays 429). */
  private lastCode: 'UNAVAILABLE' | 'TOOMANYREQUESTS' = 'UNAVAILABLE';

  constructor(
    readonly opts: UpstreamOptions,
    breaker: { threshold: number; cooldownMs: number },
    private readonly now: () => number = Date.now,
  ) {
    this.client = new RegistryClient({
      registry: opts.url.replace(/\/+$/, ''),
      credentials: opts.credentials,
      // The cache answers a client now: a failing upstream is served from the cache, not retried.
      retry: { attempts: 1 },
      idleTimeoutMs: 30_000,
    });
    this.breaker = new CircuitBreaker(breaker.threshold, breaker.cooldownMs, now);
    this.bucket = opts.rateLimit ? new TokenBucket(opts.rateLimit.requests, opts.rateLimit.windowMs, now) : undefined;
  }

  get name(): string {
    return this.opts.name;
  }

  /** One request upstream through the breaker (and the bucket for what counts as a pull); non-2xx answers throw. */
  private async call(
    method: 'GET' | 'HEAD',
    repo: string,
    kind: 'manifests' | 'blobs',
    ref: string,
    counted: boolean,
  ): Promise<HttpResponse> {
    if (!this.breaker.allow()) {
      const wait = Math.max(0, this.breaker.retryAt - this.now());
      const why = this.lastCode === 'TOOMANYREQUESTS' ? 'it asked to wait (429)' : 'it failed repeatedly';
      this.outcomes.breaker_open++;
      throw new UpstreamUnavailableError(this.name, `circuit breaker open: ${why}`, wait, this.lastCode);
    }
    if (counted && this.bucket && !this.bucket.take()) {
      this.breaker.succeeded();
      const wait = this.bucket.waitMs();
      this.outcomes.budget_spent++;
      throw new UpstreamUnavailableError(this.name, 'its request budget is spent', wait, 'TOOMANYREQUESTS');
    }
    this.requests++;
    const need = { scopes: scopes.pull(repo), repository: repo };
    let res: HttpResponse;
    try {
      ({ res } = await this.client.read(method, `/v2/${repo}/${kind}/${ref}`, need, {
        headers: kind === 'manifests' ? { accept: ACCEPT } : {},
      }));
    } catch (e) {
      this.fail('UNAVAILABLE');
      this.outcomes.unavailable++;
      if (e instanceof RegistryNetworkError) throw new UpstreamUnavailableError(this.name, e.message);
      throw e;
    }
    this.record(res);
    if (res.status === 429 || res.status >= 500) {
      await discard(res);
      const after = retryAfterMs(headerValue(res, 'retry-after'), this.now());
      const code = res.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE';
      this.outcomes[res.status === 429 ? 'rate_limited' : 'unavailable']++;
      this.fail(code, res.status === 429 ? (after ?? this.breaker.cooldownMs) : after);
      throw new UpstreamUnavailableError(this.name, `it answered ${res.status}`, after, code);
    }
    this.breaker.succeeded();
    if (res.status >= 200 && res.status < 300) {
      this.outcomes.ok++;
      return res;
    }
    this.outcomes[res.status === 404 ? 'not_found' : 'refused']++;
    const text = method === 'GET' ? await bodyText(res, 4096).catch(() => '') : (await discard(res), '');
    if (res.status === 404) {
      const code = kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN';
      throw new OciError(code, `${kind === 'manifests' ? 'manifest' : 'blob'} ${ref} unknown to upstream ${this.name}`);
    }
    const what = res.status === 401 || res.status === 403 ? '; check its credentials in proxy.upstreams' : '';
    throw new UpstreamUnavailableError(
      this.name,
      `it answered ${res.status} ${text.slice(0, 200).replace(/\s+/g, ' ')}${what}`.trim(),
    );
  }

  private fail(code: 'UNAVAILABLE' | 'TOOMANYREQUESTS', retryAfter?: number): void {
    this.failures++;
    this.lastCode = code;
    this.breaker.failed(retryAfter);
  }

  private record(res: HttpResponse): void {
    const limit = headerValue(res, 'ratelimit-limit');
    const remaining = headerValue(res, 'ratelimit-remaining');
    if (limit === undefined && remaining === undefined) return;
    const source = headerValue(res, 'docker-ratelimit-source');
    this.rateLimit = {
      limit: limit ?? '',
      remaining: remaining ?? '',
      ...(source ? { source } : {}),
      at: new Date(this.now()).toISOString(),
    };
  }

  /** HEAD of a manifest (not a pull on Docker Hub): its digest. */
  async headManifest(repo: string, ref: string): Promise<Digest | undefined> {
    const res = await this.call('HEAD', repo, 'manifests', ref, false);
    await discard(res);
    const d = headerValue(res, 'docker-content-digest');
    return d && isDigest(d) ? d : undefined;
  }

  /** GET of a manifest, byte-exact; a digest reference is checked against the bytes. */
  async getManifest(repo: string, ref: string): Promise<UpstreamManifest> {
    const res = await this.call('GET', repo, 'manifests', ref, true);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > MANIFEST_MAX) {
        res.body.destroy();
        throw new OciError('SIZE_INVALID', `upstream ${this.name}: manifest ${ref} is over ${MANIFEST_MAX} bytes`);
      }
      chunks.push(c as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    const digest = isDigest(ref) ? digestOf(bytes, digestAlgorithm(ref)) : digestOf(bytes);
    if (isDigest(ref) && digest !== ref)
      throw new OciError('DIGEST_INVALID', `upstream ${this.name} sent a manifest for ${ref} whose digest differs`);
    const mediaType = (headerValue(res, 'content-type') ?? '').split(';')[0]!.trim();
    return { bytes, mediaType, digest };
  }

  /** HEAD of a blob: its size. */
  async headBlob(repo: string, digest: Digest): Promise<number> {
    const res = await this.call('HEAD', repo, 'blobs', digest, false);
    await discard(res);
    return Number(headerValue(res, 'content-length') ?? 0);
  }

  /** GET of a blob: its size (Content-Length) and the body, unread. */
  async openBlob(repo: string, digest: Digest): Promise<{ size: number | undefined; stream: Readable }> {
    const res = await this.call('GET', repo, 'blobs', digest, false);
    const len = headerValue(res, 'content-length');
    return { size: len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined, stream: res.body };
  }

  /** Counts blob bytes read from this upstream (the cache's tap calls it per chunk). */
  fetched(n: number): void {
    this.bytes += n;
  }

  status(): UpstreamStatus {
    const retryAt = this.breaker.retryAt;
    return {
      name: this.name,
      url: this.opts.url,
      prefix: this.opts.prefix,
      breaker: this.breaker.state,
      retryAt: retryAt > 0 ? new Date(retryAt).toISOString() : null,
      budget: this.bucket ? { limit: this.bucket.capacity, left: this.bucket.left() } : null,
      rateLimit: this.rateLimit,
      requests: this.requests,
      failures: this.failures,
      outcomes: { ...this.outcomes },
      bytes: this.bytes,
    };
  }
}
