/**
 * Test kit (not a test): runs the real registry server in-process on 127.0.0.1 with a random
 * port and a throw-away data directory, and talks raw HTTP to it with node:http, so that every
 * header (or its absence: no Accept, no Content-Length, chunked bodies) is exactly what a test says.
 * The request builders and assertions also drive the in-memory server of memory-app.ts.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveConfigSchema, type ServeConfigInput } from '../config/schema.js';
import { digestOf, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import type { Content, TestImage } from './content.js';
import { startServer, type LaunchOptions, type RunningServer } from '../server/start.js';

export * from './content.js';

// ---- raw HTTP
export interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every value of every header, unjoined (e.g. one entry per `OCI-Tag` line). */
  distinct: Record<string, string[]>;
  body: Buffer;
  text(): string;
  json(): any;
}

export interface ReqOptions {
  headers?: Record<string, string | number | string[]>;
  /**
   * A Buffer/string is sent with an exact Content-Length (unless the headers set one already);
   * an array of Buffers is sent with `Transfer-Encoding: chunked`, one write per element.
   */
  body?: Buffer | string | Buffer[];
  /** Give up (destroying the connection) after this long; default 20 s, so a hung server fails one test fast. */
  timeoutMs?: number;
}

/** Anything tests send requests to: the on-disk server over a socket, or the in-memory app. */
export interface Requester {
  req(method: string, path: string, opts?: ReqOptions): Promise<Res>;
}

/** The headers a request carries: the test's own, plus the framing its body implies. */
export function requestHeaders(method: string, opts: ReqOptions): Record<string, string | number | string[]> {
  const headers: Record<string, string | number | string[]> = { ...(opts.headers ?? {}) };
  const lower = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  const body = opts.body;
  if (Array.isArray(body)) {
    if (!lower.has('transfer-encoding')) headers['transfer-encoding'] = 'chunked';
  } else if (body !== undefined) {
    if (!lower.has('content-length')) headers['content-length'] = Buffer.byteLength(body);
  } else if (
    ['PUT', 'POST', 'PATCH'].includes(method) &&
    !lower.has('content-length') &&
    !lower.has('transfer-encoding')
  ) {
    headers['content-length'] = 0;
  }
  return headers;
}

/** One HTTP request with exact control over the headers sent. Never follows redirects. */
export function rawRequest(
  base: string,
  agent: Agent | undefined,
  method: string,
  path: string,
  opts: ReqOptions = {},
): Promise<Res> {
  const u = new URL(base);
  const headers = requestHeaders(method, opts);
  const body = opts.body;
  return new Promise<Res>((resolve, reject) => {
    let settled = false;
    const req = httpRequest(
      { host: u.hostname, port: u.port, method, path, headers, agent: agent ?? false, setHost: true },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => {
          if (!settled) {
            settled = true;
            reject(e);
          }
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          const buf = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            distinct: res.headersDistinct as Record<string, string[]>,
            body: buf,
            text: () => buf.toString('utf8'),
            json: () => JSON.parse(buf.toString('utf8')),
          });
        });
      },
    );
    req.setTimeout(opts.timeoutMs ?? 20_000, () => {
      req.destroy(
        new Error(`no complete response to ${method} ${path.slice(0, 200)} within ${opts.timeoutMs ?? 20_000} ms`),
      );
    });
    req.on('error', (e) => {
      // The server may answer (e.g. 413) and close before the whole body went out: that answer counts.
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
    if (Array.isArray(body)) {
      for (const c of body) req.write(c);
      req.end();
    } else {
      req.end(body);
    }
  });
}

// ---- the server
export interface TestServer extends Requester {
  url: string;
  dataDir: string;
  running: RunningServer;
  /** Stops the server, keeping the data directory. */
  stop(): Promise<void>;
  /** Stops (if running) and starts a new server over the same data directory (new port). */
  restart(): Promise<void>;
  /** Stops the server and removes the data directory. */
  close(): Promise<void>;
}

/** One fixture for a whole test file: started before its tests, closed after them; the object forwards to it. */
export function perFile<T extends { close(): Promise<void> }>(start: () => Promise<T>, what: string): T {
  let current: T | undefined;
  before(async () => {
    current = await start();
  });
  after(async () => {
    await current?.close();
  });
  return new Proxy({} as T, {
    get(_, key) {
      if (key === 'then') return undefined; // not a promise
      if (!current) throw new Error(`${what} is not running (use it inside a test)`);
      const v: unknown = Reflect.get(current, key);
      return typeof v === 'function' ? v.bind(current) : v;
    },
  });
}

/** One server for a whole test file (see perFile); tests write `ts.req(...)` as with startTestServer. */
export function useTestServer(config: Partial<ServeConfigInput> = {}): TestServer {
  return perFile(() => startTestServer(config), 'the test server');
}

/**
 * Starts the real server on 127.0.0.1:0 over a fresh data directory. `config` overrides defaults; `launch.now`
 * is the server's clock (testClock() in ./helpers.ts) for tests of expiry that must not sleep.
 */
export async function startTestServer(
  config: Partial<ServeConfigInput> = {},
  launch: LaunchOptions = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'kura-http-test-'));
  const cfg = serveConfigSchema.parse({ listen: '127.0.0.1:0', data: dataDir, log: { level: 'silent' }, ...config });
  let running: RunningServer | null = await startServer(cfg, launch);
  let agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const ts: TestServer = {
    url: running.url,
    dataDir,
    running,
    req: (method, path, opts) => rawRequest(ts.url, agent, method, path, opts),
    async stop() {
      agent.destroy();
      if (running) await running.close();
      running = null;
    },
    async restart() {
      await ts.stop();
      running = await startServer(cfg, launch);
      agent = new Agent({ keepAlive: true, maxSockets: 16 });
      ts.running = running;
      ts.url = running.url;
    },
    async close() {
      await ts.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return ts;
}

// ---- assertions
export function errorCodes(res: Res): string[] {
  const body = res.json() as { errors?: { code: string }[] };
  assert.ok(Array.isArray(body.errors), `expected an errors array, got ${res.text().slice(0, 300)}`);
  return body.errors.map((e) => e.code);
}

/** Asserts a distribution-spec error response: status, JSON content type and exactly these codes. */
export function assertError(res: Res, status: number, ...codes: string[]): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text().slice(0, 500)}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(errorCodes(res), codes, res.text().slice(0, 500));
}

export function assertStatus(res: Res, status: number): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text().slice(0, 500)}`);
}

// ---- names and content
let counter = 0;
/** A fresh repository name for one test (valid grammar, unique within the process). */
export function uniqueRepo(prefix = 'repo'): string {
  counter++;
  return `${prefix}/r${counter}-${randomBytes(3).toString('hex')}`;
}

/** Monolithic upload (POST ?digest=); asserts 201 and returns the digest. */
export async function pushBlob(
  ts: Requester,
  repo: string,
  data: Buffer | Content,
  alg: DigestAlgorithm = 'sha256',
): Promise<Digest> {
  const bytes = Buffer.isBuffer(data) ? data : data.bytes;
  const digest = Buffer.isBuffer(data) ? digestOf(bytes, alg) : data.digest;
  const res = await ts.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  assertStatus(res, 201);
  return digest;
}

/** PUT a manifest; returns the response (no status assertion). */
export function putManifest(
  ts: Requester,
  repo: string,
  reference: string,
  m: Content | Buffer,
  contentType?: string,
): Promise<Res> {
  const bytes = Buffer.isBuffer(m) ? m : m.bytes;
  const ct = contentType ?? (Buffer.isBuffer(m) ? undefined : m.mediaType);
  return ts.req('PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: ct ? { 'content-type': ct } : {},
    body: bytes,
  });
}

/** PUT a manifest and assert 201 + Docker-Content-Digest. */
export async function pushManifest(ts: Requester, repo: string, reference: string, m: Content): Promise<Res> {
  const res = await putManifest(ts, repo, reference, m);
  assertStatus(res, 201);
  assert.equal(res.headers['docker-content-digest'], m.digest);
  return res;
}

/** Pushes config and layers, then the manifest under `reference` (a tag, or its digest when omitted). */
export async function pushImage(ts: Requester, repo: string, img: TestImage, reference?: string): Promise<Res> {
  await pushBlob(ts, repo, img.config);
  for (const l of img.layers) await pushBlob(ts, repo, l);
  return pushManifest(ts, repo, reference ?? img.manifest.digest, img.manifest);
}

/** Parses `Link: <url>; rel="next"` into its URL, or null. */
export function nextLink(res: Res): string | null {
  const link = res.headers.link;
  if (link === undefined) return null;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(String(link));
  assert.ok(m, `malformed Link header: ${String(link)}`);
  return m[1]!;
}
