import { Readable } from 'node:stream';
import type { Artifact, BlobReader, Descriptor, Sink, Source } from '../oci/artifact.js';
import { digestOf, isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { isImageManifestMediaType, isIndexMediaType, MediaTypes } from '../oci/mediatypes.js';
import { children } from './oci-layout.js';

const ACCEPT = [MediaTypes.OciIndex, MediaTypes.DockerManifestList, MediaTypes.OciManifest, MediaTypes.DockerManifest].join(', ');

export interface RegistryClientOptions {
  /** host[:port] */
  registry: string;
  /** Plain HTTP: the default for localhost and 127.0.0.1, else only when asked. */
  plainHttp?: boolean;
  credentials?: { username: string; password: string };
}

function challenge(header: string | null): { scheme: string; params: Record<string, string> } | null {
  if (!header) return null;
  const m = /^(\w+)\s+(.*)$/.exec(header.trim());
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

/**
 * A distribution-spec client: anonymous, Basic, or Bearer through the registry's token service
 * (tokens cached per scope). Redirects are followed by fetch, which drops Authorization across origins.
 */
export class RegistryClient {
  readonly base: string;
  private readonly tokens = new Map<string, string>();
  private basicOnly = false;

  constructor(readonly opts: RegistryClientOptions) {
    const local = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(opts.registry);
    this.base = `${opts.plainHttp || local ? 'http' : 'https'}://${opts.registry}`;
  }

  private basic(): string | undefined {
    const c = this.opts.credentials;
    return c ? 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64') : undefined;
  }

  private async token(params: Record<string, string>, scope: string): Promise<string> {
    const cached = this.tokens.get(scope);
    if (cached) return cached;
    const u = new URL(params.realm!);
    if (params.service) u.searchParams.set('service', params.service);
    u.searchParams.set('scope', scope);
    const auth = this.basic();
    const res = await fetch(u, { headers: auth ? { authorization: auth } : {} });
    if (!res.ok) throw new OciError('UNAUTHORIZED', `${u.origin} refused a token for ${scope} (${res.status}); check the credentials (kura login)`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const t = body.token ?? body.access_token;
    if (!t) throw new OciError('UNAUTHORIZED', `${u.origin} answered without a token`);
    this.tokens.set(scope, t);
    return t;
  }

  /** One request, authenticating on a 401 challenge and retrying once. */
  async request(method: string, path: string, scope: string, init: { headers?: Record<string, string>; body?: Buffer | Readable } = {}): Promise<Response> {
    const send = (authorization?: string) => {
      const headers: Record<string, string> = { ...(init.headers ?? {}), ...(authorization ? { authorization } : {}) };
      const body = init.body instanceof Readable ? (Readable.toWeb(init.body) as ReadableStream) : init.body;
      return fetch(this.base + path, { method, headers, body, ...(init.body instanceof Readable ? { duplex: 'half' } : {}) } as RequestInit).catch(
        (e: Error & { cause?: { code?: string; message?: string } }) => {
          const why = e.cause?.code ?? e.cause?.message ?? e.message;
          throw new Error(`cannot reach ${this.base} (${why}); check the address, and use --plain-http for a registry without TLS`);
        },
      );
    };
    const cached = this.tokens.get(scope);
    let res = await send(cached ? `Bearer ${cached}` : this.basicOnly ? this.basic() : undefined);
    if (res.status !== 401 || init.body instanceof Readable) return res;
    const c = challenge(res.headers.get('www-authenticate'));
    await res.body?.cancel();
    if (c?.scheme === 'bearer' && c.params.realm) {
      this.tokens.delete(scope);
      res = await send(`Bearer ${await this.token(c.params, scope)}`);
    } else if (c?.scheme === 'basic' && this.opts.credentials) {
      this.basicOnly = true;
      res = await send(this.basic());
    }
    return res;
  }

  async ensureAuth(repo: string, actions: string): Promise<void> {
    // Get a token (or learn Basic) before streaming bodies, which cannot be replayed after a 401.
    const res = await this.request('GET', '/v2/', `repository:${repo}:${actions}`);
    await res.body?.cancel();
    if (res.status === 401) {
      const c = challenge(res.headers.get('www-authenticate'));
      if (c?.scheme === 'bearer' && c.params.realm) await this.token(c.params, `repository:${repo}:${actions}`);
      else if (c?.scheme === 'basic') this.basicOnly = true;
    }
  }
}

async function fail(res: Response, what: string): Promise<never> {
  const text = await res.text().catch(() => '');
  let code = '';
  try {
    code = (JSON.parse(text) as { errors?: { code: string; message: string }[] }).errors?.map((e) => `${e.code}: ${e.message}`).join('; ') ?? '';
  } catch {
    code = text.slice(0, 200);
  }
  const hint = res.status === 401 ? '; log in first (credentials)' : res.status === 403 ? '; the account lacks the right' : '';
  throw new Error(`${what}: ${res.status} ${code}${hint}`);
}

/** A repository of a registry as a Source and a Sink of images. */
export class RegistryRepository implements Source, Sink {
  constructor(
    readonly client: RegistryClient,
    readonly repo: string,
  ) {}

  readonly blobs: BlobReader = {
    open: async (d) => {
      const kind = isIndexMediaType(d.mediaType) || isImageManifestMediaType(d.mediaType) ? 'manifests' : 'blobs';
      const res = await this.client.request('GET', `/v2/${this.repo}/${kind}/${d.digest}`, `repository:${this.repo}:pull`, { headers: kind === 'manifests' ? { accept: ACCEPT } : {} });
      if (!res.ok || !res.body) return fail(res, `GET ${this.repo} ${d.digest}`);
      return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    },
  };

  async get(reference: string): Promise<Artifact> {
    const res = await this.client.request('GET', `/v2/${this.repo}/manifests/${reference}`, `repository:${this.repo}:pull`, { headers: { accept: ACCEPT } });
    if (!res.ok) return fail(res, `${this.client.opts.registry}/${this.repo}:${reference}`);
    const manifest = Buffer.from(await res.arrayBuffer());
    const digest = digestOf(manifest);
    if (isDigest(reference) && reference !== digest) throw new OciError('DIGEST_INVALID', `the registry sent a manifest with digest ${digest} for ${reference}`);
    const mediaType = (res.headers.get('content-type') ?? MediaTypes.OciManifest).split(';')[0]!.trim();
    return { descriptor: { mediaType, digest, size: manifest.length }, manifest, blobs: this.blobs };
  }

  private async putBlob(d: Descriptor, from: BlobReader): Promise<void> {
    const scope = `repository:${this.repo}:pull,push`;
    const head = await this.client.request('HEAD', `/v2/${this.repo}/blobs/${d.digest}`, scope);
    if (head.ok) return;
    const start = await this.client.request('POST', `/v2/${this.repo}/blobs/uploads/`, scope);
    if (start.status !== 202) return fail(start, `start upload of ${d.digest}`);
    const loc = new URL(start.headers.get('location')!, this.client.base);
    loc.searchParams.set('digest', d.digest);
    const put = await this.client.request('PUT', loc.pathname + loc.search, scope, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(d.size) },
      body: await from.open(d),
    });
    if (put.status !== 201) return fail(put, `upload of ${d.digest}`);
  }

  private async putTree(ref: string, d: Descriptor, manifest: Buffer, from: BlobReader): Promise<void> {
    const kids = children(manifest);
    // Layers three at a time; child manifests after their own blobs.
    const queue = [...kids];
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          if (isIndexMediaType(c.mediaType) || isImageManifestMediaType(c.mediaType)) {
            const chunks: Buffer[] = [];
            for await (const x of await from.open(c)) chunks.push(x as Buffer);
            await this.putTree(c.digest, c, Buffer.concat(chunks), from);
          } else await this.putBlob(c, from);
        }
      }),
    );
    const res = await this.client.request('PUT', `/v2/${this.repo}/manifests/${ref}`, `repository:${this.repo}:pull,push`, {
      headers: { 'content-type': d.mediaType },
      body: manifest,
    });
    if (res.status !== 201) return fail(res, `PUT manifest ${ref}`);
  }

  async write(tag: string, artifact: Artifact): Promise<Descriptor> {
    await this.client.ensureAuth(this.repo, 'pull,push');
    await this.putTree(tag, artifact.descriptor, artifact.manifest, artifact.blobs);
    return artifact.descriptor;
  }

  async tags(): Promise<string[]> {
    const res = await this.client.request('GET', `/v2/${this.repo}/tags/list`, `repository:${this.repo}:pull`);
    if (!res.ok) return fail(res, `tags of ${this.repo}`);
    return ((await res.json()) as { tags: string[] }).tags;
  }
}

export type { Digest };
