/**
 * The pull-through cache: names routed to upstreams, manifests fetched on request and revalidated after their TTL,
 * blobs streamed to the client while they are stored, one upstream request per manifest or blob however many
 * clients ask at once, and cached content served with a `Warning` when the upstream cannot answer.
 */
import { PassThrough, type Readable } from 'node:stream';
import { digestAlgorithm, isDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { ManifestRecord, Registry } from '../registry/registry.js';
import { SingleFlight } from './flight.js';
import { ChunkHasher, type NativeHashing } from './hasher.js';
import { BlobTap, REPLAY_MAX } from './tap.js';
import type { ProxyOptions } from './options.js';
import { Upstream, UpstreamUnavailableError, type UpstreamStatus } from './upstream.js';

/** Counters for the admin API. */
export interface CacheStats {
  manifestHits: number;
  manifestFetches: number;
  revalidations: number;
  blobHits: number;
  blobFetches: number;
  stale: number;
  /** Requests for a blob another request is fetching: waiting or reading its live stream now, and in all. */
  waiters: number;
  joined: number;
}

export interface ProxyStatus {
  upstreams: UpstreamStatus[];
  stats: CacheStats;
}

export class PullThroughCache {
  readonly upstreams: Upstream[];
  readonly stats: CacheStats = {
    manifestHits: 0,
    manifestFetches: 0,
    revalidations: 0,
    blobHits: 0,
    blobFetches: 0,
    stale: 0,
    waiters: 0,
    joined: 0,
  };
  private readonly now: () => number;
  private readonly hashing: NativeHashing | undefined;
  /** When each cached tag was last confirmed upstream (`repo\0tag`); a restart revalidates everything once. */
  private readonly validated = new Map<string, number>();
  private readonly manifests = new SingleFlight<string | undefined>();
  private readonly blobs = new SingleFlight<void>();
  /** The live stream of each blob being fetched (undefined when it turned out held or could not be opened). */
  private readonly taps = new Map<string, Promise<BlobTap | undefined>>();

  constructor(
    private readonly registry: Registry,
    opts: ProxyOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.hashing = opts.hashing;
    const breaker = opts.breaker ?? { threshold: 5, cooldownMs: 30_000 };
    this.upstreams = opts.upstreams.map((u) => new Upstream(u, breaker, this.now));
  }

  route(repo: string, ns: string | null): string | undefined {
    if (ns) {
      const n = ns.toLowerCase();
      const up = this.upstreams.find(
        (u) =>
          new URL(u.opts.url).host === n ||
          u.opts.namespaces.includes(n) ||
          u.opts.name === n ||
          (u.opts.dockerHubMirror && n === 'docker.io'),
      );
      if (up) return `${up.opts.prefix}/${repo}`;
    }
    if (this.upstreams.some((u) => repo.startsWith(`${u.opts.prefix}/`))) return repo;
    const mirror = this.upstreams.find((u) => u.opts.dockerHubMirror);
    if (mirror && repo.startsWith('library/')) return `${mirror.opts.prefix}/${repo}`;
    return undefined;
  }

  /** The upstream of a local repository and the repository's name there. */
  private upstreamOf(repo: string): { up: Upstream; name: string } {
    const up = this.upstreams.find((u) => repo.startsWith(`${u.opts.prefix}/`));
    if (!up) throw new OciError('NAME_UNKNOWN', `repository ${repo} is not served by an upstream`);
    return { up, name: repo.slice(up.opts.prefix.length + 1) };
  }

  manifest(repo: string, reference: string): Promise<string | undefined> {
    return this.manifests.run(`${repo}\0${reference}`, () => this.ensureManifest(repo, reference));
  }

  private async localManifest(repo: string, reference: string): Promise<ManifestRecord | null> {
    try {
      return await this.registry.statManifest(repo, reference);
    } catch (e) {
      if (e instanceof OciError && e.code === 'MANIFEST_UNKNOWN') return null;
      throw e;
    }
  }

  private async ensureManifest(repo: string, reference: string): Promise<string | undefined> {
    const { up, name } = this.upstreamOf(repo);
    const local = await this.localManifest(repo, reference);
    const key = `${repo}\0${reference}`;
    const fresh = (this.validated.get(key) ?? -Infinity) > this.now() - up.opts.ttlMs;
    // Digests never change; a tag is trusted for its TTL.
    if (local && (isDigest(reference) || fresh)) {
      this.stats.manifestHits++;
      return undefined;
    }
    try {
      if (local) {
        this.stats.revalidations++;
        // A HEAD, which Docker Hub does not count as a pull.
        const digest = await up.headManifest(name, reference);
        if (digest === local.digest) {
          this.validated.set(key, this.now());
          return undefined;
        }
      }
      const m = await up.getManifest(name, reference);
      this.stats.manifestFetches++;
      await this.registry.cacheManifest(repo, reference, m.mediaType, m.bytes);
      if (!isDigest(reference)) this.validated.set(key, this.now());
      return undefined;
    } catch (e) {
      if (!local) throw e;
      // Stale-if-error: whatever the upstream's trouble, the cached copy is served, with a warning.
      this.stats.stale++;
      const why = e instanceof UpstreamUnavailableError ? e.reason : (e as Error).message;
      return `110 kura "Response is stale: upstream ${up.name} could not revalidate it (${clean(why)})"`;
    }
  }

  private async holds(repo: string, digest: Digest): Promise<boolean> {
    try {
      await this.registry.statBlob(repo, digest);
      return true;
    } catch (e) {
      if (e instanceof OciError && e.code === 'BLOB_UNKNOWN') return false;
      throw e;
    }
  }

  async blob(repo: string, digest: Digest, head: boolean): Promise<{ size?: number; stream?: Readable } | undefined> {
    const key = `${repo}\0${digest}`;
    for (let running = this.blobs.get(key); running; running = this.blobs.get(key)) {
      // Another client's request is fetching it: read its bytes live while that fetch can still replay them from
      // the first byte, else wait until it is stored and read it from here; if that fetch failed, try again (the
      // first to get here leads).
      this.stats.waiters++;
      this.stats.joined++;
      let live = false;
      try {
        const tap = head ? undefined : await this.taps.get(key);
        if (tap?.joinable) {
          live = true;
          return { size: tap.size, stream: tap.reader(() => this.stats.waiters--) };
        }
        await running;
        return undefined;
      } catch {
        continue;
      } finally {
        if (!live) this.stats.waiters--;
      }
    }
    const { up, name } = this.upstreamOf(repo);
    if (head) return (await this.holds(repo, digest)) ? undefined : { size: await up.headBlob(name, digest) };
    // Registered before the first await, so that every later request waits for this one (or joins its stream).
    let settle!: (p: Promise<void>) => void;
    const stored = new Promise<void>((resolve) => (settle = (p) => resolve(p)));
    let opened!: (tap: BlobTap | undefined) => void;
    this.taps.set(key, new Promise<BlobTap | undefined>((resolve) => (opened = resolve)));
    this.blobs.set(key, stored);
    stored.then(
      () => this.taps.delete(key),
      () => this.taps.delete(key),
    );
    try {
      if (await this.holds(repo, digest)) {
        this.stats.blobHits++;
        opened(undefined);
        settle(Promise.resolve());
        return undefined;
      }
      const { size, stream } = await up.openBlob(name, digest);
      this.stats.blobFetches++;
      const tap = new BlobTap(size);
      // The store may fall behind the client by up to the tap's replay window (64 MiB), so the client reads at the
      // upstream's pace, not the disk's; for a blob within the window the tap holds those same chunks anyway.
      const toStore = new PassThrough({ highWaterMark: REPLAY_MAX });
      // One hash of the bytes as they arrive, for the readers and the store: readers get their last chunk once the
      // bytes verified against the digest, without waiting for the store to make them durable (fsync, rename,
      // metadata row), which is what a cold pull waited for; the store compares the same digest, of the very chunks
      // it was handed, before it commits (hashing them a second time was a sixth of the cache's CPU time). The hash
      // runs on the thread pool where the native helper is built (src/proxy/hasher.ts).
      const hash = new ChunkHasher(digestAlgorithm(digest), this.hashing);
      let hashed!: { resolve: (d: Digest) => void; reject: (e: Error) => void };
      const ofBytes = new Promise<Digest>((resolve, reject) => (hashed = { resolve, reject }));
      ofBytes.catch(() => undefined);
      stream.on('data', (chunk: Buffer) => {
        up.fetched(chunk.length);
        hash.update(chunk);
        tap.push(chunk);
        // A store 64 MiB behind sets the pace; readers are served from the tap's chunks.
        if (!toStore.write(chunk)) stream.pause();
      });
      toStore.on('drain', () => stream.resume());
      stream.on('end', () => {
        toStore.end();
        hash.digest().then(
          (actual) => {
            hashed.resolve(actual);
            if (actual === digest) tap.finish();
            else tap.fail(new Error(`upstream ${up.name}: blob ${digest} arrived with digest ${actual}`));
          },
          (e: Error) => {
            hashed.reject(e);
            tap.fail(e);
          },
        );
      });
      stream.on('error', (e) => {
        hashed.reject(e);
        toStore.destroy(e);
        tap.fail(e);
      });
      // Verified against its digest and committed by rename; a broken stream leaves no blob behind. Later requests
      // wait for this (single-flight) and read the stored copy.
      const upload = this.registry.monolithicUpload(repo, digest, toStore, size, ofBytes).then(() => undefined);
      upload.then(
        () => tap.finish(),
        (e: Error) => {
          tap.fail(new Error(`upstream ${up.name}: blob ${digest} was not stored (${e.message})`));
          stream.destroy();
        },
      );
      settle(upload);
      opened(tap);
      return { size, stream: tap.reader() };
    } catch (e) {
      opened(undefined);
      settle(Promise.reject(e));
      stored.catch(() => undefined);
      throw e;
    }
  }

  /** Waits for the manifests and blobs being stored (before the registry closes). */
  async close(): Promise<void> {
    await Promise.all([this.manifests.idle(), this.blobs.idle()]);
  }

  status(): ProxyStatus {
    return { upstreams: this.upstreams.map((u) => u.status()), stats: { ...this.stats } };
  }
}

function clean(s: string): string {
  return s.replace(/["\\\r\n]/g, ' ').slice(0, 200);
}
