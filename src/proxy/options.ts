/** The pull-through cache's configuration (`proxy.upstreams` of kura serve, already validated). */
import type { NativeHashing } from './hasher.js';

/** One upstream registry the cache reads through. */
export interface UpstreamOptions {
  /** A short name for logs, warnings and the admin API. */
  name: string;
  /** The registry's origin: `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
  url: string;
  /** The first path segment that selects it: `/v2/<prefix>/library/nginx/...`; cached content lives under it. */
  prefix: string;
  /** Upstream credentials (user and password or token), from the config or read from `credentialsFile`. */
  credentials?: { username: string; password: string };
  /** How long a tag is served without asking upstream again (ms); digests never expire. */
  ttlMs: number;
  /** Upstream manifest GETs allowed per window (a token bucket); absent: no limit. */
  rateLimit?: { requests: number; windowMs: number };
  /** Loopback, link-local and private addresses allowed (tests, an in-house mirror). */
  allowPrivate: boolean;
  /** Docker Hub mirror: serves `library/...` names and containerd's `ns=docker.io`. */
  dockerHubMirror: boolean;
  /** Other `ns=` values (containerd's hosts.toml) that select this upstream, besides its own host. */
  namespaces: string[];
}

export interface ProxyOptions {
  upstreams: UpstreamOptions[];
  /** Failures in a row that open an upstream's circuit breaker, and how long it stays open (ms). */
  breaker?: { threshold: number; cooldownMs: number };
  now?: () => number;
  /** The native helper's hashing, when built: blobs are hashed on the thread pool. */
  hashing?: NativeHashing;
}
