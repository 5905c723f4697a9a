/** The pull-through cache in the configuration: `proxy.upstreams` (YAML only). */
import { z } from 'zod';
import { bool, duration } from './values.js';

const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export const upstreamSchema = z
  .strictObject({
    name: z.string().regex(NAME, 'a lower-case name such as "hub" or "ghcr"'),
    url: z.string().min(1),
    prefix: z.string().regex(NAME, 'one repository path segment such as "hub"').optional(),
    credentials: z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
    credentialsFile: z.string().min(1).optional(),
    ttl: duration.prefault('1h'),
    rateLimit: z.strictObject({ requests: z.number().int().positive(), window: duration }).optional(),
    allowPrivate: bool.default(false),
    dockerHubMirror: bool.default(false),
    namespaces: z.array(z.string().min(1)).default([]),
  })
  .refine((u) => !(u.credentials && u.credentialsFile), 'give credentials or credentialsFile, not both');

export const proxySchema = z
  .strictObject({
    upstreams: z
      .array(upstreamSchema)
      .default([])
      .refine((a) => new Set(a.map((u) => u.prefix ?? u.name)).size === a.length, 'upstream prefixes must differ')
      .refine((a) => a.filter((u) => u.dockerHubMirror).length <= 1, 'at most one upstream is the dockerHubMirror')
      .describe(
        'Pull-through cache (YAML only): `{name, url, prefix, credentials | credentialsFile, ttl, rateLimit: ' +
          '{requests, window}, allowPrivate, dockerHubMirror, namespaces}` per upstream; see docs/proxy.md.',
      ),
    breaker: z
      .strictObject({
        failures: z
          .number()
          .int()
          .positive()
          .default(5)
          .describe('Upstream failures in a row (network, 5xx, 429) that open its circuit breaker.'),
        cooldown: duration
          .prefault('30s')
          .describe('How long an open breaker refuses upstream calls (a 429 with Retry-After: that long).'),
      })
      .prefault({})
      .describe('Failures in a row that open an upstream circuit breaker, and how long it stays open.'),
  })
  .prefault({});
