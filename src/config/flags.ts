// Generated from src/config/schema.ts by `node scripts/gen-config-docs.mjs`; a test fails when it is stale.
/** The flags of `kura serve`, one per config key (the schema is loaded only when the server starts). */
export const SERVE_FLAGS: readonly { path: readonly string[]; flag: string; description: string }[] = [
  {
    path: ['listen'],
    flag: '--listen',
    description: 'Address and port to listen on (HOST:PORT; port 0 picks a free one).',
  },
  {
    path: ['data'],
    flag: '--data',
    description: 'Directory holding blobs (blobs/), uploads (uploads/) and the SQLite metadata (kura.db).',
  },
  {
    path: ['storage', 'driver'],
    flag: '--storage-driver',
    description:
      'Where blob bytes live: fs (under data/blobs, the default) or memory (gone when the process stops: tests, demos), or s3 (an S3 bucket, see storage.s3; for several replicas).',
  },
  {
    path: ['storage', 's3', 'bucket'],
    flag: '--storage-s3-bucket',
    description: 'S3 bucket holding blobs and uploads (required with driver s3).',
  },
  {
    path: ['storage', 's3', 'prefix'],
    flag: '--storage-s3-prefix',
    description: 'Key prefix inside the bucket (blobs/ and uploads/ go under it).',
  },
  { path: ['storage', 's3', 'region'], flag: '--storage-s3-region', description: 'Region requests are signed for.' },
  {
    path: ['storage', 's3', 'endpoint'],
    flag: '--storage-s3-endpoint',
    description: 'URL of an S3-compatible server (Ceph RGW, MinIO); empty means AWS S3.',
  },
  {
    path: ['storage', 's3', 'forcePathStyle'],
    flag: '--storage-s3-force-path-style',
    description: 'Path-style URLs (http://host/bucket/key); default: on when an endpoint is set.',
  },
  {
    path: ['storage', 's3', 'accessKeyId'],
    flag: '--storage-s3-access-key-id',
    description: 'Access key; empty means the AWS default chain (AWS_ACCESS_KEY_ID, ~/.aws, instance roles).',
  },
  {
    path: ['storage', 's3', 'secretAccessKey'],
    flag: '--storage-s3-secret-access-key',
    description: 'Secret key (prefer the environment or the AWS chain to a flag); never logged.',
  },
  {
    path: ['storage', 's3', 'partSize'],
    flag: '--storage-s3-part-size',
    description: 'Size of the parts uploads are sent to S3 in (at least 5 MiB, the S3 minimum).',
  },
  {
    path: ['storage', 'redirect'],
    flag: '--storage-redirect',
    description:
      'Answer blob GETs with a 307 to a presigned S3 URL (as registry:2 does) instead of streaming the bytes; s3 only.',
  },
  {
    path: ['metadata', 'driver'],
    flag: '--metadata-driver',
    description:
      'Where metadata lives: sqlite (data/kura.db, the default), memory (gone when the process stops: tests, demos) or postgres (a PostgreSQL database several replicas share: metadata.postgres).',
  },
  {
    path: ['metadata', 'shared'],
    flag: '--metadata-shared',
    description:
      'Other kura processes use the same metadata (replicas on one host over one data/kura.db): SQLite is opened without its exclusive lock and lookups are not cached in process memory.',
  },
  {
    path: ['metadata', 'postgres', 'url'],
    flag: '--metadata-postgres-url',
    description:
      'PostgreSQL connection string (postgres://USER:PASSWORD@HOST:PORT/DB) for metadata.driver postgres; unset: the standard PG* environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Never logged.',
  },
  {
    path: ['metadata', 'postgres', 'schema'],
    flag: '--metadata-postgres-schema',
    description: "Schema holding kura's tables, created if missing; unset: the server's search_path (public).",
  },
  {
    path: ['metadata', 'postgres', 'poolSize'],
    flag: '--metadata-postgres-pool-size',
    description: 'Connections each kura process keeps open to PostgreSQL.',
  },
  {
    path: ['metadata', 'postgres', 'statementTimeout'],
    flag: '--metadata-postgres-statement-timeout',
    description: 'Longest a metadata query may run before PostgreSQL cancels it (statement_timeout); 0: none.',
  },
  { path: ['log', 'level'], flag: '--log-level', description: 'Request log level (JSON lines on stdout).' },
  {
    path: ['delete', 'enabled'],
    flag: '--delete-enabled',
    description: 'Allow DELETE of manifests, tags and blobs; when false they answer 405 UNSUPPORTED.',
  },
  {
    path: ['limits', 'manifestMaxBytes'],
    flag: '--limits-manifest-max-bytes',
    description: 'Largest manifest accepted on PUT (413 above).',
  },
  {
    path: ['limits', 'blobMaxBytes'],
    flag: '--limits-blob-max-bytes',
    description: 'Largest blob accepted in an upload (413 above); 0 for no limit.',
  },
  {
    path: ['limits', 'tagsPerPush'],
    flag: '--limits-tags-per-push',
    description: 'Most `tag` parameters on one manifest PUT (414 above).',
  },
  {
    path: ['limits', 'pageMax'],
    flag: '--limits-page-max',
    description: 'Largest `n` accepted by tag list and catalog pagination.',
  },
  {
    path: ['limits', 'uploadsPerCaller'],
    flag: '--limits-uploads-per-caller',
    description: 'Most open upload sessions per user (or client address when anonymous); 429 above. 0 = no limit.',
  },
  {
    path: ['uploads', 'purgeAfter'],
    flag: '--uploads-purge-after',
    description: 'Upload sessions idle longer than this are purged.',
  },
  {
    path: ['uploads', 'purgeInterval'],
    flag: '--uploads-purge-interval',
    description: 'How often stale upload sessions are looked for.',
  },
  {
    path: ['uploads', 'automaticMount'],
    flag: '--uploads-automatic-mount',
    description:
      'A blob mount without `from` (or with an unusable one) finds the blob in any repository the caller may pull, and answers 201; off, it starts an upload (202).',
  },
  {
    path: ['gc', 'interval'],
    flag: '--gc-interval',
    description:
      'How often `kura serve` collects garbage (unreferenced blobs, stale uploads); 0 turns the schedule off.',
  },
  {
    path: ['gc', 'grace'],
    flag: '--gc-grace',
    description:
      'Blobs uploaded, mounted, HEADed or fetched within this period are never collected (at least 1m unless gc.allowShortGrace); stored bytes no metadata records are collected once older than this.',
  },
  {
    path: ['gc', 'allowShortGrace'],
    flag: '--gc-allow-short-grace',
    description:
      'Accept a gc.grace under one minute (tests only: pushes then fail while a client is between its blobs and its manifest).',
  },
  {
    path: ['retention', 'interval'],
    flag: '--retention-interval',
    description: 'How often `kura serve` applies the retention rules; 0 leaves it to `kura policy apply`.',
  },
  {
    path: ['scan', 'onPush'],
    flag: '--scan-on-push',
    description: 'Scan each pushed image manifest (and each child of a pushed index) in the background (docs/scan.md).',
  },
  {
    path: ['scan', 'concurrency'],
    flag: '--scan-concurrency',
    description: "Scans run at once (each reads one image's layers).",
  },
  {
    path: ['scan', 'db'],
    flag: '--scan-db',
    description: 'Advisory database file (default: the one `kura db import` writes, osv.sqlite in $KURA_DB_DIR).',
  },
  {
    path: ['scan', 'recheck'],
    flag: '--scan-recheck',
    description: 'How often the advisory database is checked for a new import; stored results are then re-matched.',
  },
  {
    path: ['auth', 'htpasswd'],
    flag: '--auth-htpasswd',
    description: 'htpasswd file with bcrypt entries (htpasswd -Bbn); turns authentication on. Re-read when it changes.',
  },
  {
    path: ['auth', 'accounts'],
    flag: '--auth-accounts',
    description:
      'Authenticate against users and robots kept in the metadata store (`kura user`, `kura token create`); turns authentication on.',
  },
  {
    path: ['auth', 'token', 'enabled'],
    flag: '--auth-token-enabled',
    description:
      "Docker's token flow: Bearer challenges and a token endpoint at /v2/token (Basic credentials still accepted).",
  },
  {
    path: ['auth', 'token', 'service'],
    flag: '--auth-token-service',
    description: 'Token audience and the service name in challenges.',
  },
  {
    path: ['auth', 'token', 'realm'],
    flag: '--auth-token-realm',
    description: 'Token endpoint URL sent in challenges (default: this server /v2/token).',
  },
  { path: ['auth', 'token', 'expiry'], flag: '--auth-token-expiry', description: 'Lifetime of issued tokens.' },
  {
    path: ['auth', 'token', 'rotate'],
    flag: '--auth-token-rotate',
    description:
      'Replace the signing key at start when it is older than this (0 = never); the old key still verifies its tokens until they expire.',
  },
  {
    path: ['auth', 'lockout', 'failures'],
    flag: '--auth-lockout-failures',
    description: 'Failed sign-ins per client address or user name within the window that lock it (0: never).',
  },
  {
    path: ['auth', 'lockout', 'window'],
    flag: '--auth-lockout-window',
    description: 'Window in which failures are counted; the first lock lasts this long.',
  },
  {
    path: ['auth', 'lockout', 'max'],
    flag: '--auth-lockout-max',
    description: 'Each further lock lasts twice the last, up to this.',
  },
  {
    path: ['audit', 'enabled'],
    flag: '--audit-enabled',
    description: 'Record pushes, deletes, mounts and refused requests in the audit trail.',
  },
  {
    path: ['audit', 'pulls'],
    flag: '--audit-pulls',
    description: 'Also record every manifest pull (one row per pull: turn off for very busy registries).',
  },
  {
    path: ['audit', 'keep'],
    flag: '--audit-keep',
    description: 'Audit events older than this are deleted (checked with the upload purge).',
  },
  {
    path: ['tls', 'cert'],
    flag: '--tls-cert',
    description: 'PEM certificate (chain) file; with tls.key, serve HTTPS (and HSTS). Re-read on SIGHUP.',
  },
  { path: ['tls', 'key'], flag: '--tls-key', description: 'PEM private key file for tls.cert.' },
  {
    path: ['http', 'headersTimeout'],
    flag: '--http-headers-timeout',
    description: 'Time a client has to send its request headers (slow-loris).',
  },
  {
    path: ['http', 'idleTimeout'],
    flag: '--http-idle-timeout',
    description: 'A connection silent this long is closed (a slow body included).',
  },
  {
    path: ['http', 'maxHeaderBytes'],
    flag: '--http-max-header-bytes',
    description: 'Largest request header block; larger requests get 431.',
  },
  {
    path: ['http', 'cors', 'credentials'],
    flag: '--http-cors-credentials',
    description: 'Let those pages send credentials (cookies, HTTP auth) along.',
  },
  {
    path: ['http', 'cors', 'maxAge'],
    flag: '--http-cors-max-age',
    description: 'How long browsers may cache a preflight answer.',
  },
  {
    path: ['http', 'sendfile'],
    flag: '--http-sendfile',
    description:
      "Send blob bodies with sendfile(2) (plain HTTP on Linux, when `npm install` built the native helper), and the pull-through cache's blobs being fetched by writev(2) from the thread pool; false pipes them through Node streams.",
  },
  {
    path: ['http', 'zeroCopy'],
    flag: '--http-zero-copy',
    description:
      'With http.sendfile: always hand the socket page-cache references (sendfile(2), a quarter of the server CPU per GiB). Default: a body of 16 MiB or more is copied through a 32 KiB buffer while at most two such bodies are in flight, because a busy client reads freshly copied bytes faster (docs/benchmarks.md).',
  },
  {
    path: ['proxy', 'breaker', 'failures'],
    flag: '--proxy-breaker-failures',
    description: 'Upstream failures in a row (network, 5xx, 429) that open its circuit breaker.',
  },
  {
    path: ['proxy', 'breaker', 'cooldown'],
    flag: '--proxy-breaker-cooldown',
    description: 'How long an open breaker refuses upstream calls (a 429 with Retry-After: that long).',
  },
  {
    path: ['shutdown', 'timeout'],
    flag: '--shutdown-timeout',
    description: 'On SIGTERM, how long in-flight requests may finish before the process exits.',
  },
  {
    path: ['metrics', 'enabled'],
    flag: '--metrics-enabled',
    description:
      'Serve Prometheus metrics at /metrics: on the main listener for global admins (with authentication off, to loopback callers only), or on metrics.listen when set.',
  },
  {
    path: ['metrics', 'listen'],
    flag: '--metrics-listen',
    description:
      'A separate HOST:PORT serving only GET /metrics, without authentication (keep it on a private network); with it set, the main listener has no /metrics.',
  },
  {
    path: ['notifications', 'interval'],
    flag: '--notifications-interval',
    description: 'How often each server looks for events to deliver (events due now go out at once in a row).',
  },
  {
    path: ['ui', 'enabled'],
    flag: '--ui-enabled',
    description: 'Serve the web UI under /ui (same identities and rights as the API).',
  },
  {
    path: ['ui', 'publicHost'],
    flag: '--ui-public-host',
    description: 'Registry host[:port] the UI shows in pull commands; empty: the Host the browser used.',
  },
];
