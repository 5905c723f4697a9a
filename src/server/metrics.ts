/**
 * Prometheus metrics of `kura serve` (`metrics.enabled`): HTTP requests by route template and status, body
 * bytes, open upload sessions, blob store and metadata operation latency (one wrapper per store interface,
 * applied at the composition root), garbage collections. Loaded only when metrics are on.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import { isLoopback } from '../http/admin.js';
import type { MetadataStore } from '../metadata/types.js';
import { OciError } from '../oci/errors.js';
import type { GcResult } from '../registry/gc.js';
import type { Registry } from '../registry/registry.js';
import type { BlobStore } from '../storage/types.js';
import { splitListen } from './start.js';

/** Latency buckets (seconds) of requests and store operations: 0.5 ms to 30 s. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The content type of the Prometheus text exposition format that prom-client writes. */
export const METRICS_CONTENT_TYPE = PromRegistry.PROMETHEUS_CONTENT_TYPE;

/** A v2 route as its template (`/v2/{name}/blobs/{digest}`), so a label never holds a repository name. */
function routeTemplate(req: FastifyRequest): string {
  const v2 = req.kura.family === 'v2' ? req.kura.v2 : null;
  if (v2) {
    const tail = {
      tags: 'tags/list',
      manifest: 'manifests/{reference}',
      blob: 'blobs/{digest}',
      uploads: 'blobs/uploads/',
      upload: 'blobs/uploads/{id}',
      referrers: 'referrers/{digest}',
    }[v2.kind];
    return `/v2/{name}/${tail}`;
  }
  if (req.kura.family === 'v2' && req.kura.path.startsWith('/v2/') && req.kura.path.length > 4) return '/v2/(other)';
  return req.routeOptions.url ?? '(unmatched)';
}

const START = Symbol('kura.metrics.start');
type Timed = FastifyRequest & { [START]?: { at: bigint; read: number } };

/** Every metric of one server, in its own prom-client registry (never the global one: tests run several). */
export class ServerMetrics {
  readonly registry = new PromRegistry();
  private readonly requests = new Counter({
    name: 'kura_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'kura_http_request_duration_seconds',
    help: 'Time from a request received to its answer sent, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: 'kura_http_body_bytes_total',
    help: 'Body bytes by Content-Length: "in" of requests (a chunked one: bytes read while it ran), "out" of answers.',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  private readonly storage = new Histogram({
    name: 'kura_storage_operation_duration_seconds',
    help: 'Blob store operations, by driver, operation and outcome (ok or error).',
    labelNames: ['driver', 'operation', 'outcome'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  });
  private readonly metadata = new Histogram({
    name: 'kura_metadata_operation_duration_seconds',
    help: 'Metadata store operations, by driver, role, operation and outcome (ok or error).',
    labelNames: ['driver', 'role', 'operation', 'outcome'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  });
  private readonly gcRuns = new Counter({
    name: 'kura_gc_runs_total',
    help: 'Garbage collections (timer, admin API, kura gc against the server), by outcome (ok, dry_run, error).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly gcBytes = new Counter({
    name: 'kura_gc_freed_bytes_total',
    help: 'Bytes of unreferenced blobs deleted by garbage collections.',
    registers: [this.registry],
  });
  private readonly gcBlobs = new Counter({
    name: 'kura_gc_freed_blobs_total',
    help: 'Unreferenced blobs deleted by garbage collections.',
    registers: [this.registry],
  });

  private readonly eventFailures = new Counter({
    name: 'kura_events_delivery_failures_total',
    help: 'Webhook deliveries that failed (an error answer, a timeout, no connection), by endpoint; each is retried.',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  private readonly eventsSent = new Counter({
    name: 'kura_events_delivered_total',
    help: 'Webhook events their endpoint accepted, by endpoint.',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });

  constructor() {
    // Unprefixed (process_*, nodejs_*), as the usual Node.js dashboards expect.
    collectDefaultMetrics({ register: this.registry });
  }

  /** The text exposition of every metric (Prometheus format 0.0.4). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** Counts open upload sessions at each scrape, from the metadata (so it holds across restarts and replicas). */
  watchUploads(meta: MetadataStore): void {
    new Gauge({
      name: 'kura_upload_sessions_open',
      help: 'Upload sessions started and not yet finished, cancelled or purged.',
      registers: [this.registry],
      async collect() {
        this.set((await meta.uploads.listStale(Number.MAX_SAFE_INTEGER)).length);
      },
    });
  }

  /** Counts the events waiting in the outbox at each scrape, per endpoint (from the metadata: all replicas'). */
  watchEvents(meta: MetadataStore): void {
    new Gauge({
      name: 'kura_events_backlog',
      help: 'Webhook events written and not yet delivered, by endpoint.',
      labelNames: ['endpoint'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [endpoint, n] of Object.entries(await meta.events.backlog())) this.set({ endpoint }, n);
      },
    });
  }

  eventFailed(endpoint: string): void {
    this.eventFailures.inc({ endpoint });
  }

  eventsDelivered(endpoint: string, count: number): void {
    this.eventsSent.inc({ endpoint }, count);
  }

  /** Times `run`, observing its outcome on `histogram` with `labels`. */
  private timed<T>(observe: (outcome: string, seconds: number) => void, run: () => T): T {
    const start = process.hrtime.bigint();
    const done = (outcome: string) => observe(outcome, Number(process.hrtime.bigint() - start) / 1e9);
    let result: T;
    try {
      result = run();
    } catch (e) {
      done('error');
      throw e;
    }
    if (result instanceof Promise) {
      return result.then(
        (v) => (done('ok'), v),
        (e) => {
          done('error');
          throw e;
        },
      ) as T;
    }
    done('ok');
    return result;
  }

  /** The blob store with every promise-returning operation timed (streams and listings pass through). */
  blobStore(store: BlobStore): BlobStore {
    const driver = store.name;
    return new Proxy(store, {
      get: (target, key) => {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== 'function' || key === 'list' || key === 'listUploads') return value;
        const operation = String(key);
        return (...args: unknown[]) =>
          this.timed(
            (outcome, s) => this.storage.observe({ driver, operation, outcome }, s),
            () => (value as (...a: unknown[]) => unknown).apply(target, args),
          );
      },
    });
  }

  /** The metadata store with every method of every role table timed, whatever roles the driver has. */
  metadataStore(meta: MetadataStore): MetadataStore {
    const driver = meta.name;
    const roles = new Map<PropertyKey, object>();
    return new Proxy(meta, {
      get: (target, key) => {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value === 'function') return (value as (...a: unknown[]) => unknown).bind(target);
        if (typeof value !== 'object' || value === null) return value;
        let role = roles.get(key);
        if (!role) {
          role = this.role(driver, String(key), value);
          roles.set(key, role);
        }
        return role;
      },
    });
  }

  private role(driver: string, role: string, table: object): object {
    return new Proxy(table, {
      get: (target, key) => {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== 'function') return value;
        const operation = String(key);
        return (...args: unknown[]) =>
          this.timed(
            (outcome, s) => this.metadata.observe({ driver, role, operation, outcome }, s),
            () => (value as (...a: unknown[]) => unknown).apply(target, args),
          );
      },
    });
  }

  /** Counts the registry's garbage collections, whoever starts them. */
  watchGc(registry: Registry): void {
    const collect = registry.collectGarbage;
    registry.collectGarbage = async (opts) => {
      let r: GcResult;
      try {
        r = await collect(opts);
      } catch (e) {
        this.gcRuns.inc({ outcome: 'error' });
        throw e;
      }
      this.gcRuns.inc({ outcome: r.dryRun ? 'dry_run' : 'ok' });
      if (!r.dryRun) {
        this.gcBytes.inc(r.bytes);
        this.gcBlobs.inc(r.blobs.length);
      }
      return r;
    };
  }

  /** Counts and times every request of the app. */
  instrument(app: FastifyInstance): void {
    app.addHook('onRequest', (req: Timed, _reply, done) => {
      req[START] = { at: process.hrtime.bigint(), read: req.raw.socket?.bytesRead ?? 0 };
      done();
    });
    app.addHook('onResponse', (req: Timed, reply, done) => {
      const start = req[START];
      if (start) {
        const labels = { method: req.method, route: routeTemplate(req), status: String(reply.statusCode) };
        this.requests.inc(labels);
        this.latency.observe(labels, Number(process.hrtime.bigint() - start.at) / 1e9);
        // The declared length; a chunked body (none declared) by what the socket read while the request ran.
        const declared = Number(req.headers['content-length'] ?? NaN);
        const read = Number.isSafeInteger(declared) ? declared : (req.raw.socket?.bytesRead ?? start.read) - start.read;
        if (read > 0) this.bytes.inc({ direction: 'in' }, read);
        const length = Number(reply.getHeader('content-length') ?? 0);
        if (req.method !== 'HEAD' && Number.isSafeInteger(length) && length > 0)
          this.bytes.inc({ direction: 'out' }, length);
      }
      done();
    });
  }

  /**
   * Instruments the app and serves /metrics: on a separate listener when `listen` is given (its URL returned),
   * else on the app as an admin route (global admins; with authentication off, loopback callers only).
   */
  async serve(
    app: FastifyInstance,
    opts: { listen?: string; authenticated: boolean },
  ): Promise<{ url: string | undefined; close(): Promise<void> }> {
    this.instrument(app);
    if (opts.listen) {
      const { host, port } = splitListen(opts.listen);
      const { server, url } = await this.listen(host, port);
      const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
      return { url, close };
    }
    app.get('/metrics', { config: { family: 'admin' } }, async (req, reply) => {
      // The auth hook lets only global admins reach an admin route; an open registry answers loopback only.
      if (opts.authenticated ? !req.kuraCaller?.admin : !isLoopback(req.socket.remoteAddress))
        throw new OciError('DENIED', 'metrics answer global admins (or loopback callers when authentication is off)');
      return reply
        .header('content-type', METRICS_CONTENT_TYPE)
        .header('cache-control', 'no-store')
        .send(await this.scrape());
    });
    return { url: undefined, close: async () => {} };
  }

  /** A plain HTTP listener answering GET /metrics only (`metrics.listen`), for scrapers kept off the main port. */
  private async listen(host: string, port: number): Promise<{ server: Server; url: string }> {
    const server = createHttpServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('not found: the metrics listener serves GET /metrics\n');
        return;
      }
      this.scrape().then(
        (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(req.method === 'HEAD' ? '' : text),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics` };
  }
}
