/**
 * Test fixture (not a test): the real HTTP app (`buildApp`) over a `Registry` on the in-memory blob
 * and metadata stores, driven without a socket by fastify's injector. Protocol suites use it; the
 * on-disk server of testkit.ts stays for what needs a socket or a disk (sendfile, TLS, limits on
 * connections, Expect: 100-continue, crashes, restarts, real clients).
 */
import { createRequire } from 'node:module';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { serveConfigSchema, type ServeConfigInput } from '../config/schema.js';
import { buildApp } from '../http/app.js';
import { MemoryMetadataStore } from '../metadata/memory/index.js';
import type { MetadataStore } from '../metadata/types.js';
import { Registry } from '../registry/registry.js';
import { authFromConfig } from '../server/auth.js';
import { registryOptions } from '../server/open.js';
import { appOptions } from '../server/start.js';
import { MemoryBlobStore } from '../storage/memory.js';
import type { BlobStore } from '../storage/types.js';
import { perFile, requestHeaders, type ReqOptions, type Requester, type Res } from './testkit.js';

export interface MemoryServer extends Requester {
  app: FastifyInstance;
  registry: Registry;
  /** The stores under the registry, to look at them directly. */
  stores: { blobs: BlobStore; meta: MetadataStore };
  /** Closes the app and the registry. */
  close(): Promise<void>;
}

export interface MemoryAppOptions {
  /** The registry's clock (ms since the epoch); default Date.now. */
  now?: () => number;
}

/** light-my-request's response, as far as this fixture reads it. */
interface Injected {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  rawPayload: Buffer;
}
type Dispatch = (req: { url: string }, res: unknown) => void;
type Inject = (dispatch: Dispatch, opts: Record<string, unknown>) => Promise<Injected>;

/**
 * fastify's `app.inject()` is light-my-request over `app.routing`. We call the same pair, resolved
 * through fastify so it is the very copy fastify uses, because inject() re-parses the target with
 * WHATWG URL first: `..` and `%2e%2e` would be resolved away before the app's own target check.
 */
const lightMyRequest = createRequire(createRequire(import.meta.url).resolve('fastify'))('light-my-request') as Inject;

/**
 * The real app over in-memory stores. `config` is the serve configuration (as for startTestServer);
 * of authentication only htpasswd is served here (the token service keeps its key on disk; accounts
 * live in the store), and no TLS (that needs a socket).
 */
export async function memoryApp(
  config: Partial<ServeConfigInput> = {},
  opts: MemoryAppOptions = {},
): Promise<MemoryServer> {
  const cfg = serveConfigSchema.parse({ log: { level: 'silent' }, ...config });
  if (cfg.auth.token.enabled || cfg.auth.accounts || cfg.tls.cert) {
    throw new Error('memoryApp serves neither tokens, accounts nor TLS: use startTestServer');
  }
  const stores = { blobs: new MemoryBlobStore(), meta: new MemoryMetadataStore() };
  const registry = new Registry(stores.blobs, stores.meta, {
    ...registryOptions(cfg),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const app = buildApp({ ...appOptions(cfg), registry, auth: await authFromConfig(cfg, '', null), sendfile: false });
  return {
    app,
    registry,
    stores,
    req: (method, path, reqOpts) => inject(app, method, path, reqOpts),
    async close() {
      await app.close();
      await registry.close();
    },
  };
}

/** One in-memory app for a whole test file (built before its tests, closed after them). */
export function useMemoryApp(config: Partial<ServeConfigInput> = {}, opts: MemoryAppOptions = {}): MemoryServer {
  return perFile(() => memoryApp(config, opts), 'the memory app');
}

/** One request through the app's router, with the target exactly as given; the answer as testkit's `Res`. */
async function inject(app: FastifyInstance, method: string, path: string, opts: ReqOptions = {}): Promise<Res> {
  await app.ready();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(requestHeaders(method, opts))) {
    headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  const body = opts.body;
  const payload = Array.isArray(body) ? Readable.from(body, { objectMode: false }) : body;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const why = `no complete response to ${method} ${path.slice(0, 200)} within ${timeoutMs} ms`;
    timer = setTimeout(() => reject(new Error(why)), timeoutMs);
  });
  const dispatch: Dispatch = (req, res) => {
    req.url = path;
    app.routing(req as never, res as never);
  };
  try {
    const r = await Promise.race([lightMyRequest(dispatch, { method, url: '/', headers, payload }), timeout]);
    return toRes(r, method);
  } finally {
    clearTimeout(timer);
  }
}

/** Headers as node:http's client shows them: repeated values joined (set-cookie kept apart), and each distinct. */
function toRes(r: Injected, method: string): Res {
  const joined: Record<string, string | string[]> = {};
  const distinct: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (v === undefined) continue;
    const all = [v].flat().map(String);
    distinct[k] = all;
    joined[k] = k === 'set-cookie' ? all : all.join(', ');
  }
  const body = method === 'HEAD' ? Buffer.alloc(0) : r.rawPayload;
  return {
    status: r.statusCode,
    headers: joined as IncomingHttpHeaders,
    distinct,
    body,
    text: () => body.toString('utf8'),
    json: () => JSON.parse(body.toString('utf8')),
  };
}
