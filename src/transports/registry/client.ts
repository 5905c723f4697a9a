/** The registry client: one registry's endpoint, mirrors, credentials and retry policy. */
import { DOCKER_HUB } from '../../oci/imageref.js';
import type { Credentials } from './credentials.js';
import { normalizeServerKey } from './credentials.js';
import { isLoopback, parseMirror } from './mirrors.js';
import { scopes, type AuthNeed } from './auth.js';
import { Endpoint, type EndpointInit } from './endpoint.js';
import { bodyText, discard, dispatcherFor, nextLink, type HttpResponse } from './http.js';
import type { Chunking } from './upload.js';
import { RegistryRepository, type RegistryAccess } from './repository.js';
import { tlsFilesFor } from './tls.js';
import { RETRY_DEFAULTS, type RetryOptions } from './retry.js';
import { parseRepositoryName } from '../../oci/names.js';
import { OciError } from '../../oci/errors.js';
import { DEFAULT_IDLE_TIMEOUT_MS } from './http.js';

/** Where credentials come from when none are given: a Keychain, or anything that resolves like one. */
export interface CredentialResolver {
  resolve(registry: string, repository?: string): Promise<Credentials | undefined>;
}

/** How to reach one registry. */
export interface RegistryClientOptions extends Chunking {
  /**
   * host[:port] as in image references; `docker.io` means Docker Hub. An explicit scheme is honoured:
   * `http://host:5000` is plain HTTP, `https://127.0.0.1:5000` HTTPS (a `plainHttp` that says otherwise is an error).
   */
  registry: string;
  /**
   * Plain HTTP: the default for localhost, 127.0.0.1 and [::1] (unless `insecure`, or TLS files are given for it), else
   * only when asked.
   */
  plainHttp?: boolean;
  /** Cancels every request of this client, and the waits between retries (each call also takes its own). */
  signal?: AbortSignal;
  /**
   * A request whose connection sends nothing for this long fails with a RegistryTimeoutError (code IDLE_TIMEOUT), the
   * reading of an answer's body included. Default 60 000 ms; 0 turns it off.
   */
  idleTimeoutMs?: number;
  /** HTTPS that accepts any certificate (self-signed, unknown CA). */
  insecure?: boolean;
  /** A PEM CA file to trust for this registry, besides the system's and certs.d's. */
  caFile?: string;
  /** The certs.d directories to look in (default: certsDirs()). */
  certsDirs?: string[];
  /** Credentials to use, overriding the keychain. */
  credentials?: Credentials;
  /** The command-line flag `credentials` came from (`--creds`, `--dest-creds`): errors say to check it. */
  credentialsFlag?: string;
  /** Where to look credentials up (config.json, auth.json, helpers). */
  keychain?: CredentialResolver;
  /** Docker Hub mirrors tried first for reads of docker.io (URLs like `https://mirror.example`). */
  mirrors?: (string | URL)[];
  /** Docker Hub's API origin (default https://registry-1.docker.io); tests point it elsewhere. */
  hubEndpoint?: string;
  retry?: RetryOptions;
  /** Blobs moved at once by `write` (default 4). */
  parallel?: number;
  userAgent?: string;
}

const HUB_API = 'https://registry-1.docker.io';

/** Kura's user agent. */
export const USER_AGENT = 'kura/0.1.0';

/**
 * A distribution-spec client for one registry: authentication (anonymous, Basic, Docker token flow),
 * retries with backoff, Docker Hub mirrors for reads. `repository(name)` gives a Source and Sink.
 */
export class RegistryClient implements RegistryAccess {
  /** The registry's name (`docker.io` for Docker Hub). */
  readonly registry: string;
  /** The API origin writes go to (and reads, after the mirrors). */
  readonly endpoint: Endpoint;
  /** Read-only mirrors, tried in order before `endpoint` (docker.io only). */
  readonly mirrors: Endpoint[];
  readonly retry: Required<RetryOptions>;
  readonly transfer: RegistryAccess['transfer'];
  private readonly down = new Set<Endpoint>();

  constructor(readonly opts: RegistryClientOptions) {
    this.registry = normalizeServerKey(opts.registry);
    const explicit = explicitScheme(opts);
    this.retry = { ...RETRY_DEFAULTS, ...(opts.retry ?? {}) };
    this.transfer = { parallel: opts.parallel ?? 4, chunkSize: opts.chunkSize, chunkThreshold: opts.chunkThreshold };
    const tls = tlsFilesFor(this.registry, { caFile: opts.caFile, dirs: opts.certsDirs });
    const dispatcher = dispatcherFor(opts.insecure === true, tls);
    const userAgent = opts.userAgent ?? USER_AGENT;
    const hub = this.registry === DOCKER_HUB;
    const scheme =
      explicit ??
      (opts.plainHttp === true
        ? 'http'
        : opts.plainHttp === false || opts.insecure || tls || !isLoopback(this.registry)
          ? 'https'
          : 'http');
    const base = new URL(hub ? (opts.hubEndpoint ?? HUB_API) : `${scheme}://${this.registry}`);
    const credentials = (repository?: string) =>
      opts.credentials
        ? Promise.resolve(opts.credentials)
        : (opts.keychain?.resolve(this.registry, repository) ?? Promise.resolve(undefined));
    const io = { signal: opts.signal, idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS };
    this.endpoint = new Endpoint({
      base: new URL(base.origin),
      registry: this.registry,
      credentials,
      credentialsFlag: opts.credentials ? opts.credentialsFlag : undefined,
      dispatcher,
      retry: this.retry,
      userAgent,
      ...io,
    });
    this.mirrors = (hub ? (opts.mirrors ?? []) : []).map((m) => {
      const url = m instanceof URL ? m : parseMirror(m);
      const mirrorCreds = (repository?: string) =>
        opts.keychain?.resolve(url.host, repository) ?? Promise.resolve(undefined);
      // No retries against a mirror: falling back to the registry is the retry.
      return new Endpoint({
        base: url,
        registry: url.host,
        credentials: mirrorCreds,
        dispatcher,
        retry: { ...this.retry, attempts: 1 },
        userAgent,
        ...io,
      });
    });
  }

  /** The API origin, e.g. `http://127.0.0.1:5000`. */
  get base(): string {
    return this.endpoint.base.origin;
  }

  /**
   * A repository of this registry as a Source, Sink, TagLister and Deleter. A name outside the
   * distribution-spec grammar is refused here (OciError NAME_INVALID), before any request.
   */
  repository(name: string): RegistryRepository {
    return new RegistryRepository(this, parseRepositoryName(name));
  }

  /**
   * A read (GET/HEAD): each mirror first (any error or non-2xx answer falls through), then the
   * registry itself, whose answer is returned as it is.
   */
  async read(
    method: 'GET' | 'HEAD',
    path: string,
    need: AuthNeed,
    init: EndpointInit = {},
  ): Promise<{ res: HttpResponse; endpoint: Endpoint }> {
    for (const m of this.mirrors) {
      if (this.down.has(m)) continue;
      try {
        const res = await m.request(method, path, { ...need, scopes: [...need.scopes] }, init);
        if (res.status >= 200 && res.status < 300) return { res, endpoint: m };
        await discard(res);
      } catch (e) {
        // A cancelled call stops here; a mirror that cannot be reached is not asked again by this client.
        if (init.signal?.aborted || this.opts.signal?.aborted) throw e;
        this.down.add(m);
      }
    }
    return { res: await this.endpoint.request(method, path, need, init), endpoint: this.endpoint };
  }

  /** Checks that the registry answers and accepts our credentials (GET /v2/ through the auth flow). */
  async ping(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const need: AuthNeed = { scopes: [] };
    const res = await this.endpoint.request('GET', '/v2/', need, opts);
    if (res.status !== 200) throw await this.endpoint.error(res, `GET ${this.registry}/v2/`, need);
    await discard(res);
  }

  /** Every repository name (`GET /v2/_catalog`, following `Link` pages of `pageSize`, if given). */
  async catalog(pageSize?: number, opts: { signal?: AbortSignal } = {}): Promise<string[]> {
    const out: string[] = [];
    const need: AuthNeed = { scopes: scopes.catalog() };
    for (
      let path: string | undefined = `/v2/_catalog${pageSize ? `?n=${pageSize}` : ''}`, page = 0;
      path && page < 10_000;
      page++
    ) {
      const res = await this.endpoint.request('GET', path, need, opts);
      if (res.status !== 200) throw await this.endpoint.error(res, `catalog of ${this.registry}`, need);
      const next = nextLink(res);
      out.push(...((JSON.parse(await bodyText(res, 64 << 20)) as { repositories?: string[] }).repositories ?? []));
      path = next;
    }
    return out;
  }
}

/**
 * The scheme `registry` names (`http://host`, `https://host`), or undefined without one; a scheme
 * other than these, or one that `plainHttp` contradicts, is an error.
 */
function explicitScheme(o: RegistryClientOptions): 'http' | 'https' | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(o.registry.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https')
    throw new OciError('BAD_REQUEST', `registry "${o.registry}": the scheme must be http:// or https://, or none`);
  if (o.plainHttp !== undefined && o.plainHttp !== (scheme === 'http'))
    throw new OciError(
      'BAD_REQUEST',
      `registry "${o.registry}" says ${scheme}:// but plainHttp is ${o.plainHttp}; drop one of the two`,
    );
  return scheme;
}
