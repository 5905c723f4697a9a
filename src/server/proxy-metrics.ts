/**
 * The pull-through cache's Prometheus metrics (`metrics.enabled` with `proxy.upstreams`): upstream requests by
 * upstream and outcome, cache hits and misses, bytes fetched, breaker state, budgets and single-flight waiters,
 * read from the cache's counters at each scrape.
 */
import { Counter, Gauge, type Registry as PromRegistry } from 'prom-client';
import type { ProxyStatus } from '../proxy/index.js';

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** The leading number of a `RateLimit-*` value (`76;w=21600` → 76), else undefined. */
function leading(v: string | undefined): number | undefined {
  const m = /^\s*(\d+)/.exec(v ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Registers the cache's metrics on `registry`; `status` is read at each scrape. */
export function watchProxy(registry: PromRegistry, status: () => ProxyStatus): void {
  const registers = [registry];
  new Counter({
    name: 'kura_proxy_upstream_requests_total',
    help:
      'Requests the pull-through cache made (or was kept from making) upstream, by upstream and outcome ' +
      '(ok, not_found, refused, unavailable, rate_limited, breaker_open, budget_spent).',
    labelNames: ['upstream', 'outcome'] as const,
    registers,
    collect() {
      this.reset();
      for (const u of status().upstreams)
        for (const [outcome, n] of Object.entries(u.outcomes)) this.inc({ upstream: u.name, outcome }, n);
    },
  });
  new Counter({
    name: 'kura_proxy_fetched_bytes_total',
    help: 'Blob bytes the pull-through cache read from each upstream.',
    labelNames: ['upstream'] as const,
    registers,
    collect() {
      this.reset();
      for (const u of status().upstreams) this.inc({ upstream: u.name }, u.bytes);
    },
  });
  new Counter({
    name: 'kura_proxy_cache_requests_total',
    help:
      'Pull-through reads by kind (manifest, blob) and result: hit (served from the cache), miss (fetched ' +
      'upstream), revalidated (a tag past its TTL asked upstream by HEAD), stale (served with a Warning).',
    labelNames: ['kind', 'result'] as const,
    registers,
    collect() {
      const s = status().stats;
      this.reset();
      this.inc({ kind: 'manifest', result: 'hit' }, s.manifestHits);
      this.inc({ kind: 'manifest', result: 'miss' }, s.manifestFetches);
      this.inc({ kind: 'manifest', result: 'revalidated' }, s.revalidations);
      this.inc({ kind: 'manifest', result: 'stale' }, s.stale);
      this.inc({ kind: 'blob', result: 'hit' }, s.blobHits);
      this.inc({ kind: 'blob', result: 'miss' }, s.blobFetches);
    },
  });
  new Gauge({
    name: 'kura_proxy_breaker_state',
    help: "Each upstream's circuit breaker: 1 on its current state (closed, open, half-open), 0 on the others.",
    labelNames: ['upstream', 'state'] as const,
    registers,
    collect() {
      this.reset();
      for (const u of status().upstreams)
        for (const state of BREAKER_STATES) this.set({ upstream: u.name, state }, u.breaker === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kura_proxy_budget_left',
    help: "Manifest GETs left in each rate-limited upstream's token bucket (rateLimit).",
    labelNames: ['upstream'] as const,
    registers,
    collect() {
      this.reset();
      for (const u of status().upstreams) if (u.budget) this.set({ upstream: u.name }, u.budget.left);
    },
  });
  new Gauge({
    name: 'kura_proxy_upstream_ratelimit_remaining',
    help: "The upstream's own RateLimit-Remaining, last seen (Docker Hub: pulls left in its window).",
    labelNames: ['upstream'] as const,
    registers,
    collect() {
      this.reset();
      for (const u of status().upstreams) {
        const left = leading(u.rateLimit?.remaining);
        if (left !== undefined) this.set({ upstream: u.name }, left);
      }
    },
  });
  new Gauge({
    name: 'kura_proxy_singleflight_waiters',
    help: 'Blob requests now waiting for, or reading the live stream of, a fetch another request started.',
    registers,
    collect() {
      this.set(status().stats.waiters);
    },
  });
  new Counter({
    name: 'kura_proxy_singleflight_joined_total',
    help: 'Blob requests that shared a fetch another request started instead of asking upstream themselves.',
    registers,
    collect() {
      this.reset();
      this.inc(status().stats.joined);
    },
  });
}
