/**
 * Ordered schema migrations, applied once each and recorded in `schema_migrations`.
 *
 * The SQL sticks to what SQLite and PostgreSQL both accept so a PostgreSQL store can reuse it; what a
 * PostgreSQL store must translate is listed in README.md in this folder ("PostgreSQL translation").
 *
 * Never edit a migration that has shipped; append a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE, -- PostgreSQL: COLLATE "C"
  created_at BIGINT NOT NULL
);

-- Every blob the registry holds, manifests included, so garbage collection sees all content.
-- state/leased_until belong to the online GC protocol; until then every row is 'live'.
CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  state TEXT NOT NULL DEFAULT 'live',
  leased_until BIGINT,
  created_at BIGINT NOT NULL
);

-- Which repositories may read a blob (uploaded or mounted there).
CREATE TABLE repository_blobs (
  repo_id BIGINT NOT NULL REFERENCES repositories (id),
  digest TEXT NOT NULL REFERENCES blobs (digest),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (repo_id, digest)
);

-- Manifest bytes live in the blob store; this is only what the API needs without reading them.
CREATE TABLE manifests (
  repo_id BIGINT NOT NULL REFERENCES repositories (id),
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size BIGINT NOT NULL,
  artifact_type TEXT,
  subject TEXT,
  annotations TEXT, -- JSON object
  created_at BIGINT NOT NULL,
  PRIMARY KEY (repo_id, digest)
);
-- Referrers API; digest last so the index also yields the response order.
CREATE INDEX manifests_subject ON manifests (repo_id, subject, digest);

CREATE TABLE manifest_refs (
  repo_id BIGINT NOT NULL,
  manifest_digest TEXT NOT NULL,
  ref_digest TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (repo_id, manifest_digest, ref_digest, kind),
  FOREIGN KEY (repo_id, manifest_digest) REFERENCES manifests (repo_id, digest)
);
-- GC and delete checks ask "who references this digest?".
CREATE INDEX manifest_refs_ref ON manifest_refs (repo_id, ref_digest);

CREATE TABLE tags (
  repo_id BIGINT NOT NULL,
  name TEXT NOT NULL, -- PostgreSQL: COLLATE "C"
  digest TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (repo_id, name),
  FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest)
);
-- Deleting a manifest removes its tags; also serves the foreign-key check on manifest delete.
CREATE INDEX tags_digest ON tags (repo_id, digest);

-- repo is a name, not an id: an upload may start before its repository exists.
-- "offset" is quoted because OFFSET is reserved in PostgreSQL.
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  repo TEXT NOT NULL,
  "offset" BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX uploads_updated_at ON uploads (updated_at);
`,
  },
  {
    version: 2,
    name: 'garbage collection lookups',
    sql: `
-- "Does any manifest, in any repository, reference this digest?" and "is it a manifest?"
CREATE INDEX manifest_refs_by_ref ON manifest_refs (ref_digest);
CREATE INDEX manifests_by_digest ON manifests (digest);
CREATE INDEX blobs_state ON blobs (state, created_at);
`,
  },
  {
    version: 3,
    name: 'last pull of each manifest',
    sql: `
-- Written in batches from memory (a pull must not cost a write); read by retention rules.
ALTER TABLE manifests ADD COLUMN last_pulled_at BIGINT;
`,
  },
  {
    version: 4,
    name: 'audit log',
    sql: `
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY, -- PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY
  at BIGINT NOT NULL,
  actor TEXT,
  address TEXT NOT NULL,
  action TEXT NOT NULL,
  repository TEXT,
  reference TEXT,
  status INTEGER NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
`,
  },
  {
    version: 5,
    name: 'accounts',
    sql: `
CREATE TABLE accounts (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'robot')),
  password_hash TEXT NOT NULL,
  grants TEXT, -- JSON {repositories, actions} for robots
  created_at BIGINT NOT NULL,
  expires_at BIGINT
);
`,
  },
  {
    version: 6,
    name: 'upload session owners',
    sql: `
ALTER TABLE uploads ADD COLUMN owner TEXT;
CREATE INDEX uploads_owner ON uploads (owner);
`,
  },
  {
    version: 7,
    name: 'repositories holding a blob',
    sql: `
-- "Which repositories may read this blob?": automatic mounts (uploads.automaticMount).
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);
`,
  },
  {
    version: 8,
    name: 'vulnerability scans',
    sql: `
-- One row per scanned manifest digest (scan.onPush): state, the packages kept for re-matching, the report.
CREATE TABLE scans (
  digest TEXT PRIMARY KEY,
  repository TEXT NOT NULL,
  state TEXT NOT NULL,
  generation TEXT,
  packages TEXT,
  report TEXT,
  summary TEXT,
  error TEXT,
  updated_at BIGINT NOT NULL
);
CREATE INDEX scans_by_state ON scans (state, updated_at);
`,
  },
  {
    version: 9,
    name: 'events outbox',
    sql: `
-- Webhook events, written in the transaction of the change they describe; deleted once delivered.
CREATE TABLE event_outbox (
  id INTEGER PRIMARY KEY, -- PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY
  endpoint TEXT NOT NULL,
  repo TEXT NOT NULL,
  payload TEXT NOT NULL, -- JSON, as the receiver gets it
  created_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at BIGINT NOT NULL,
  lease_owner TEXT,
  leased_until BIGINT
);
-- "Is an earlier event of this endpoint and repository still pending?" (delivery in order).
CREATE INDEX event_outbox_order ON event_outbox (endpoint, repo, id);
`,
  },
  {
    version: 10,
    name: 'replica counters',
    sql: `
-- Fixed-window rate-limit counters shared by replicas (PostgreSQL); rows go once their window has expired.
CREATE TABLE rate_counters (
  key TEXT NOT NULL,
  window_start BIGINT NOT NULL,
  count INTEGER NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);
`,
  },
  {
    version: 11,
    name: 'tag sort keys',
    sql: `
-- The web UI's tags page reads one page in order through an index instead of sorting every tag
-- (src/metadata/tag-keys.ts computes the keys). Written with each tag; rows of older builds stay NULL
-- until filled at start, through the partial index tags_unkeyed.
ALTER TABLE tags ADD COLUMN natural_key TEXT DEFAULT NULL; -- PostgreSQL: COLLATE "C"
ALTER TABLE tags ADD COLUMN semver_key TEXT DEFAULT NULL; -- PostgreSQL: COLLATE "C"
CREATE INDEX tags_by_natural ON tags (repo_id, natural_key, name);
CREATE INDEX tags_by_semver ON tags (repo_id, semver_key, name);
CREATE INDEX tags_by_pushed ON tags (repo_id, updated_at, name);
CREATE INDEX tags_unkeyed ON tags (repo_id, name) WHERE natural_key IS NULL;
`,
  },
];
