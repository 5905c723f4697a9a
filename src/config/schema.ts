import { ACTIONS } from '../oci/actions.js';
import { z } from 'zod';
import { duration, size, bool, globs } from './values.js';
import { scanSection } from './scan.js';
import { ecrPolicySchema, retentionRuleSchema } from './retention-schema.js';
import { proxySchema } from './proxy-schema.js';
import { replicationSchema } from './replication-schema.js';
import { notificationsSchema } from './notifications-schema.js';
import { postgresSchema, s3Schema } from './driver-schemas.js';

/**
 * The shortest gc.grace accepted without gc.allowShortGrace: longer than a client's pause between blobs and manifest.
 */
export const MIN_GRACE_MS = 60_000;

/**
 * The one schema for `kura serve`: YAML file, KURA_* environment variables and flags all go through it.
 * Each leaf's `.describe()` text is its reference documentation (docs/configuration.md is generated from it).
 */
export const serveConfigSchema = z.strictObject({
  listen: z
    .string()
    .default('127.0.0.1:5000')
    .describe('Address and port to listen on (HOST:PORT; port 0 picks a free one).'),
  data: z
    .string()
    .default('./data')
    .describe('Directory holding blobs (blobs/), uploads (uploads/) and the SQLite metadata (kura.db).'),
  storage: z
    .object({
      driver: z
        .enum(['fs', 'memory', 's3'])
        .default('fs')
        .describe(
          'Where blob bytes live: fs (under data/blobs, the default) or memory (gone when the process stops: tests, ' +
            'demos), or s3 (an S3 bucket, see storage.s3; for several replicas).',
        ),
      s3: s3Schema,
      redirect: bool
        .default(false)
        .describe(
          'Answer blob GETs with a 307 to a presigned S3 URL (as registry:2 does) instead of streaming the bytes; ' +
            's3 only.',
        ),
    })
    .prefault({}),
  metadata: z
    .object({
      driver: z
        .enum(['sqlite', 'memory', 'postgres'])
        .default('sqlite')
        .describe(
          'Where metadata lives: sqlite (data/kura.db, the default), memory (gone when the process stops: tests, ' +
            'demos) or postgres (a PostgreSQL database several replicas share: metadata.postgres).',
        ),
      shared: bool
        .default(false)
        .describe(
          'Other kura processes use the same metadata (replicas on one host over one data/kura.db): SQLite is ' +
            'opened without its exclusive lock and lookups are not cached in process memory.',
        ),
      postgres: postgresSchema,
    })
    .prefault({}),
  log: z
    .object({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe('Request log level (JSON lines on stdout).'),
    })
    .prefault({}),
  delete: z
    .object({
      enabled: bool
        .default(true)
        .describe('Allow DELETE of manifests, tags and blobs; when false they answer 405 UNSUPPORTED.'),
    })
    .prefault({}),
  limits: z
    .object({
      manifestMaxBytes: size.prefault(4 * 1024 * 1024).describe('Largest manifest accepted on PUT (413 above).'),
      blobMaxBytes: size.prefault('64GiB').describe('Largest blob accepted in an upload (413 above); 0 for no limit.'),
      tagsPerPush: z.coerce
        .number()
        .int()
        .positive()
        .default(10)
        .describe('Most `tag` parameters on one manifest PUT (414 above).'),
      pageMax: z.coerce
        .number()
        .int()
        .positive()
        .default(10000)
        .describe('Largest `n` accepted by tag list and catalog pagination.'),
      uploadsPerCaller: z.coerce
        .number()
        .int()
        .nonnegative()
        .default(1000)
        .describe('Most open upload sessions per user (or client address when anonymous); 429 above. 0 = no limit.'),
    })
    .prefault({}),
  uploads: z
    .object({
      purgeAfter: duration.prefault('168h').describe('Upload sessions idle longer than this are purged.'),
      purgeInterval: duration.prefault('1h').describe('How often stale upload sessions are looked for.'),
      automaticMount: bool
        .default(false)
        .describe(
          'A blob mount without `from` (or with an unusable one) finds the blob in any repository the caller may ' +
            'pull, and answers 201; off, it starts an upload (202).',
        ),
    })
    .prefault({}),
  gc: z
    .strictObject({
      interval: duration
        .prefault('1h')
        .describe(
          'How often `kura serve` collects garbage (unreferenced blobs, stale uploads); 0 turns the schedule off.',
        ),
      grace: duration
        .prefault('1h')
        .describe(
          'Blobs uploaded, mounted, HEADed or fetched within this period are never collected (at least 1m unless ' +
            'gc.allowShortGrace); stored bytes no metadata records are collected once older than this.',
        ),
      allowShortGrace: bool
        .default(false)
        .describe(
          'Accept a gc.grace under one minute (tests only: pushes then fail while a client is between its blobs and ' +
            'its manifest).',
        ),
    })
    .superRefine((g, ctx) => {
      if (g.grace < MIN_GRACE_MS && !g.allowShortGrace) {
        ctx.addIssue({
          code: 'custom',
          path: ['grace'],
          message:
            `gc.grace ${g.grace} ms is under one minute: a collection would delete blobs a client uploaded ` +
            `but has not yet referenced in its manifest, and its push would fail with MANIFEST_BLOB_UNKNOWN; use 1m ` +
            `or more, or set gc.allowShortGrace: true to force it`,
        });
      }
    })
    .prefault({}),
  retention: z
    .strictObject({
      interval: duration
        .prefault('0')
        .describe('How often `kura serve` applies the retention rules; 0 leaves it to `kura policy apply`.'),
      rules: z.array(retentionRuleSchema).default([]).describe('Kura retention rules (YAML only; see below).'),
      ecr: z
        .array(
          z.strictObject({
            repositories: globs,
            policy: ecrPolicySchema.optional(),
            policyFile: z.string().optional(),
          }),
        )
        .default([])
        .describe('ECR lifecycle policies by repository glob, inline or from a JSON file (YAML only).'),
    })
    .prefault({}),
  quotas: z
    .array(
      z
        .strictObject({ repositories: globs.optional(), namespaces: globs.optional(), limit: size })
        .refine((q) => q.repositories || q.namespaces, 'give repositories or namespaces'),
    )
    .default([])
    .describe('Storage limits per repository or namespace (YAML only).'),
  immutability: z
    .array(z.strictObject({ repositories: globs, tags: globs }))
    .default([])
    .describe('Tags that cannot be moved or deleted once pushed, by repository and tag glob (YAML only).'),
  verify: z
    .strictObject({
      rules: z
        .array(
          z.strictObject({
            repositories: globs.describe('Repository globs the rule protects (first matching rule wins).'),
            keys: z
              .array(z.string())
              .min(1, 'give at least one public key file')
              .describe('PEM public keys or X.509 certificates (files, as cosign writes NAME.pub), read at start.'),
            inheritFromIndex: bool
              .default(false)
              .describe('A child manifest passes when an index tagged in the same repository lists it and is signed.'),
          }),
        )
        .default([])
        .describe(
          'Pull policy: manifest GETs and HEADs in these repositories answer 403 DENIED unless a cosign signature ' +
            '(`.sig` tag or sigstore-bundle referrer) by one of the keys verifies (YAML only).',
        ),
    })
    .prefault({}),
  scan: scanSection,
  auth: z
    .strictObject({
      htpasswd: z
        .string()
        .optional()
        .describe(
          'htpasswd file with bcrypt entries (htpasswd -Bbn); turns authentication on. Re-read when it changes.',
        ),
      accounts: bool
        .default(false)
        .describe(
          'Authenticate against users and robots kept in the metadata store (`kura user`, `kura token create`); ' +
            'turns authentication on.',
        ),
      token: z
        .strictObject({
          enabled: bool
            .default(false)
            .describe(
              "Docker's token flow: Bearer challenges and a token endpoint at /v2/token (Basic credentials still " +
                'accepted).',
            ),
          service: z.string().default('kura').describe('Token audience and the service name in challenges.'),
          realm: z
            .string()
            .optional()
            .describe('Token endpoint URL sent in challenges (default: this server /v2/token).'),
          expiry: duration.prefault('5m').describe('Lifetime of issued tokens.'),
          rotate: duration
            .prefault('0')
            .describe(
              'Replace the signing key at start when it is older than this (0 = never); the old key still verifies ' +
                'its tokens until they expire.',
            ),
          trust: z
            .array(
              z.strictObject({
                issuer: z.string().min(1),
                publicKeyFile: z.string().optional(),
                jwksFile: z.string().optional(),
                algorithm: z.string().optional(),
              }),
            )
            .default([])
            .describe('External token issuers to accept, with a PEM public key or a JWKS file (YAML only).'),
        })
        .prefault({}),
      anonymous: z
        .array(z.strictObject({ repositories: globs, actions: z.array(z.enum(ACTIONS)).min(1) }))
        .default([])
        .describe('What callers without credentials may do, by repository glob (YAML only).'),
      rules: z
        .array(
          z.strictObject({ users: globs.optional(), repositories: globs, actions: z.array(z.enum(ACTIONS)).min(1) }),
        )
        .default([])
        .describe(
          'What authenticated users may do; none: pull, push and delete everywhere, and no admin API (YAML only).',
        ),
      admins: z
        .array(z.string().min(1))
        .default([])
        .describe(
          'Users who may use the admin API (accounts, audit, usage) and admin everything; a rule with admin on ' +
            'exactly "**" does the same (YAML only).',
        ),
      lockout: z
        .strictObject({
          failures: z
            .number()
            .int()
            .min(0)
            .default(10)
            .describe('Failed sign-ins per client address or user name within the window that lock it (0: never).'),
          window: duration
            .prefault('5m')
            .describe('Window in which failures are counted; the first lock lasts this long.'),
          max: duration.prefault('1h').describe('Each further lock lasts twice the last, up to this.'),
        })
        .prefault({})
        .describe('Lockout after repeated failed sign-ins (Basic, tokens, /v2/token).'),
    })
    .prefault({}),
  rateLimits: z
    .array(
      z.strictObject({
        action: z.enum(['pull', 'push', 'delete', 'request']),
        limit: z.number().int().positive(),
        window: duration,
        per: z.enum(['caller', 'address']).default('caller'),
      }),
    )
    .default([])
    .describe('Request rate limits per user (or client address) and action (YAML only).'),
  audit: z
    .strictObject({
      enabled: bool.default(true).describe('Record pushes, deletes, mounts and refused requests in the audit trail.'),
      pulls: bool
        .default(true)
        .describe('Also record every manifest pull (one row per pull: turn off for very busy registries).'),
      keep: duration
        .prefault('90d')
        .describe('Audit events older than this are deleted (checked with the upload purge).'),
    })
    .prefault({}),
  tls: z
    .strictObject({
      cert: z
        .string()
        .optional()
        .describe('PEM certificate (chain) file; with tls.key, serve HTTPS (and HSTS). Re-read on SIGHUP.'),
      key: z.string().optional().describe('PEM private key file for tls.cert.'),
    })
    .prefault({}),
  http: z
    .strictObject({
      headersTimeout: duration.prefault('30s').describe('Time a client has to send its request headers (slow-loris).'),
      idleTimeout: duration
        .prefault('120s')
        .describe('A connection silent this long is closed (a slow body included).'),
      maxHeaderBytes: size.prefault('16KiB').describe('Largest request header block; larger requests get 431.'),
      cors: z
        .strictObject({
          origins: z
            .array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'an origin is scheme://host[:port], or "*"'))
            .default([])
            .describe(
              'Origins whose browser pages may call the registry API (/v2, the token endpoint), e.g. ' +
                'https://ui.example; "*" for any. Empty: no CORS (YAML only).',
            ),
          credentials: bool.default(false).describe('Let those pages send credentials (cookies, HTTP auth) along.'),
          maxAge: duration.prefault('10m').describe('How long browsers may cache a preflight answer.'),
        })
        .prefault({}),
      sendfile: bool
        .default(true)
        .describe(
          'Send blob bodies with sendfile(2) (plain HTTP on Linux, when `npm install` built the native helper), and ' +
            "the pull-through cache's blobs being fetched by writev(2) from the thread pool; false pipes them " +
            'through Node streams.',
        ),
      zeroCopy: bool
        .default(false)
        .describe(
          'With http.sendfile: always hand the socket page-cache references (sendfile(2), a quarter of the server ' +
            'CPU per GiB). Default: a body of 16 MiB or more is copied through a 32 KiB buffer while at most two ' +
            'such bodies are in flight, because a busy client reads freshly copied bytes faster (docs/benchmarks.md).',
        ),
    })
    .prefault({}),
  proxy: proxySchema.describe('Pull-through cache of upstream registries (see docs/proxy.md).'),
  replication: replicationSchema.describe('Replication rules: copies to other registries (see docs/proxy.md).'),
  shutdown: z
    .object({
      timeout: duration
        .prefault('30s')
        .describe('On SIGTERM, how long in-flight requests may finish before the process exits.'),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: bool
        .default(false)
        .describe(
          'Serve Prometheus metrics at /metrics: on the main listener for global admins (with authentication off, ' +
            'to loopback callers only), or on metrics.listen when set.',
        ),
      listen: z
        .string()
        .optional()
        .describe(
          'A separate HOST:PORT serving only GET /metrics, without authentication (keep it on a private ' +
            'network); with it set, the main listener has no /metrics.',
        ),
    })
    .prefault({}),
  notifications: notificationsSchema,
  ui: z
    .object({
      enabled: bool.default(true).describe('Serve the web UI under /ui (same identities and rights as the API).'),
      publicHost: z
        .string()
        .default('')
        .describe('Registry host[:port] the UI shows in pull commands; empty: the Host the browser used.'),
    })
    .prefault({}),
});

export type ServeConfigInput = z.input<typeof serveConfigSchema>;
export type ServeConfig = z.output<typeof serveConfigSchema>;
