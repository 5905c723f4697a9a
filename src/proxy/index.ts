/** The pull-through cache of `kura serve` (`proxy.upstreams`): opened from the configuration by src/server/. */
import { readFileSync } from 'node:fs';
import type { Registry } from '../registry/registry.js';
import { PullThroughCache } from './cache.js';
import type { NativeHashing } from './hasher.js';
import type { UpstreamOptions } from './options.js';
import { checkUpstreamUrl } from './private.js';

export { PullThroughCache, type CacheStats, type ProxyStatus } from './cache.js';
export { CircuitBreaker, TokenBucket } from './guards.js';
export { SingleFlight } from './flight.js';
export { isPrivateAddress, checkUpstreamUrl } from './private.js';
export { Upstream, UpstreamUnavailableError, type UpstreamStatus } from './upstream.js';
export type { ProxyOptions, UpstreamOptions } from './options.js';
export { ChunkHasher, type NativeHashing } from './hasher.js';

/** `proxy` of the configuration, as the schema gives it (durations in ms). */
export interface ProxyConfig {
  upstreams: {
    name: string;
    url: string;
    prefix?: string;
    credentials?: { username: string; password: string };
    credentialsFile?: string;
    ttl: number;
    rateLimit?: { requests: number; window: number };
    allowPrivate: boolean;
    dockerHubMirror: boolean;
    namespaces: string[];
  }[];
  breaker: { failures: number; cooldown: number };
}

/** `USER:PASSWORD` on the first line of a file (as skopeo's --creds), read at start. */
function readCredentialsFile(name: string, file: string): { username: string; password: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`proxy upstream "${name}": cannot read credentialsFile ${file} (${(e as Error).message})`);
  }
  const line = text.split(/\r?\n/)[0]!;
  const i = line.indexOf(':');
  if (i <= 0 || i === line.length - 1)
    throw new Error(`proxy upstream "${name}": credentialsFile ${file} must hold one line USER:PASSWORD`);
  return { username: line.slice(0, i), password: line.slice(i + 1) };
}

/** The cache over `registry`, its upstream URLs checked (no private addresses unless allowed) and secrets read. */
export async function openProxy(
  registry: Registry,
  config: ProxyConfig,
  now?: () => number,
  hashing?: NativeHashing,
): Promise<PullThroughCache | undefined> {
  if (config.upstreams.length === 0) return undefined;
  const upstreams: UpstreamOptions[] = [];
  for (const u of config.upstreams) {
    const url = await checkUpstreamUrl(u.name, u.url, u.allowPrivate);
    upstreams.push({
      name: u.name,
      url: url.origin,
      prefix: u.prefix ?? u.name,
      credentials: u.credentialsFile ? readCredentialsFile(u.name, u.credentialsFile) : u.credentials,
      ttlMs: u.ttl,
      rateLimit: u.rateLimit ? { requests: u.rateLimit.requests, windowMs: u.rateLimit.window } : undefined,
      allowPrivate: u.allowPrivate,
      dockerHubMirror: u.dockerHubMirror,
      namespaces: u.namespaces.map((n) => n.toLowerCase()),
    });
  }
  return new PullThroughCache(registry, {
    upstreams,
    breaker: { threshold: config.breaker.failures, cooldownMs: config.breaker.cooldown },
    now,
    ...(hashing ? { hashing } : {}),
  });
}
