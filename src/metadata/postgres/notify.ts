// Blob link removals across replicas: a trigger NOTIFYs them at commit, a LISTEN connection per process reports them.
import pg from 'pg';
import type { BlobGoneFeed, BlobGoneListener } from '../shared.js';

/** The channel (database-wide): each payload starts with the schema it is about, then a space. */
export const BLOB_GONE_CHANNEL = 'kura_blob_gone';
/** Payloads stay under PostgreSQL's 8,000 bytes: digests are sent in batches of about this many characters. */
const PAYLOAD_CHARS = 7000;

/**
 * The trigger every removal of a `repository_blobs` row fires, whoever runs it (Kura's unlink, GC's mark and drop,
 * a cascade, an operator's DELETE): one NOTIFY per statement with the digests, which PostgreSQL delivers when the
 * transaction commits (and never when it rolls back). An UPDATE of a link or a TRUNCATE sends `*` (forget all).
 * Installed at every start after the migrations, under their lock; the trigger is created only when missing, so
 * a replica starting does not lock the table while others serve.
 */
export const BLOB_GONE_TRIGGER_SQL = `
CREATE OR REPLACE FUNCTION kura_blob_links_gone() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d TEXT;
  batch TEXT := '';
BEGIN
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_notify('${BLOB_GONE_CHANNEL}', TG_TABLE_SCHEMA || ' *');
    RETURN NULL;
  END IF;
  FOR d IN SELECT DISTINCT digest FROM gone_links LOOP
    IF length(batch) + length(d) > ${PAYLOAD_CHARS} THEN
      PERFORM pg_notify('${BLOB_GONE_CHANNEL}', TG_TABLE_SCHEMA || ' ' || batch);
      batch := '';
    END IF;
    batch := CASE WHEN batch = '' THEN d ELSE batch || ',' || d END;
  END LOOP;
  IF batch <> '' THEN
    PERFORM pg_notify('${BLOB_GONE_CHANNEL}', TG_TABLE_SCHEMA || ' ' || batch);
  END IF;
  RETURN NULL;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'repository_blobs'::regclass
                 AND tgname = 'kura_blob_links_gone') THEN
    CREATE TRIGGER kura_blob_links_gone AFTER DELETE ON repository_blobs REFERENCING OLD TABLE AS gone_links
      FOR EACH STATEMENT EXECUTE FUNCTION kura_blob_links_gone();
    CREATE TRIGGER kura_blob_links_moved AFTER UPDATE OF repo_id, digest ON repository_blobs
      FOR EACH STATEMENT EXECUTE FUNCTION kura_blob_links_gone();
    CREATE TRIGGER kura_blob_links_truncated AFTER TRUNCATE ON repository_blobs
      FOR EACH STATEMENT EXECUTE FUNCTION kura_blob_links_gone();
  END IF;
END $$;`;

export interface FeedTiming {
  /** How often the LISTEN connection is pinged (ms). */
  heartbeatMs: number;
  /** A ping unanswered this long (ms) counts as a lost connection (a silent network can hold notifications back). */
  deadMs: number;
  /** First wait before reconnecting (ms); it doubles on each failed attempt... */
  retryFirstMs: number;
  /** ...up to this (ms). */
  retryMaxMs: number;
}

const TIMING: FeedTiming = { heartbeatMs: 2000, deadMs: 5000, retryFirstMs: 100, retryMaxMs: 5000 };

/**
 * One LISTEN connection of this process, opened on the first `subscribe`. While it is down (lost, being reopened)
 * the listeners hear `connected(false)`; removals committed by this process are reported at once through `local`,
 * without waiting for the notification.
 */
export class PgBlobGoneFeed implements BlobGoneFeed {
  private readonly listeners = new Set<BlobGoneListener>();
  private client: pg.Client | null = null;
  private started = false;
  private closed = false;
  private up = false;
  private schema: string | undefined;
  private retryMs: number;
  private timer: NodeJS.Timeout | null = null;
  private pingSince = 0;
  private readonly timing: FeedTiming;

  constructor(
    private readonly config: pg.ClientConfig,
    schema: string | undefined,
    timing: Partial<FeedTiming> = {},
  ) {
    this.schema = schema;
    this.timing = { ...TIMING, ...timing };
    this.retryMs = this.timing.retryFirstMs;
  }

  subscribe(listener: BlobGoneListener): () => void {
    this.listeners.add(listener);
    if (this.up) listener.connected(true);
    if (!this.started && !this.closed) {
      this.started = true;
      void this.open();
    }
    return () => this.listeners.delete(listener);
  }

  /** A removal this process committed: reported now (its notification, when it comes, reports it again). */
  local(digests: readonly string[]): void {
    if (digests.length > 0) for (const l of this.listeners) l.gone(digests);
  }

  /** Whether the LISTEN connection is up (for tests and diagnostics). */
  get listening(): boolean {
    return this.up;
  }

  /** The server process of the LISTEN connection while it is up (tests end it with pg_terminate_backend). */
  get backendPid(): number | undefined {
    return this.up ? (this.client as unknown as { processID?: number } | null)?.processID : undefined;
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ ...this.config, statement_timeout: 0 });
    this.client = client;
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => this.notified(n));
    try {
      await client.connect();
      await client.query(`LISTEN ${BLOB_GONE_CHANNEL}`);
      this.schema ??= (await client.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    } catch {
      this.lost(client);
      return;
    }
    if (this.client !== client || this.closed) return;
    this.up = true;
    this.retryMs = this.timing.retryFirstMs;
    for (const l of this.listeners) l.connected(true);
    this.timer = setInterval(() => this.ping(client), this.timing.heartbeatMs).unref();
  }

  private ping(client: pg.Client): void {
    if (this.pingSince > 0) {
      if (Date.now() - this.pingSince > this.timing.deadMs) this.lost(client);
      return;
    }
    this.pingSince = Date.now();
    client.query('SELECT 1').then(
      () => void (this.pingSince = 0),
      () => this.lost(client),
    );
  }

  private notified(n: pg.Notification): void {
    if (n.channel !== BLOB_GONE_CHANNEL || !n.payload) return;
    const space = n.payload.indexOf(' ');
    if (space < 0 || n.payload.slice(0, space) !== this.schema) return;
    const rest = n.payload.slice(space + 1);
    const digests = rest === '*' ? 'all' : rest.split(',');
    for (const l of this.listeners) l.gone(digests);
  }

  /** The connection failed or was cut: caches are told at once, and a new connection is tried after a pause. */
  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.pingSince = 0;
    this.up = false;
    for (const l of this.listeners) l.connected(false);
    void client.end().catch(() => {});
    if (this.closed) return;
    const wait = Math.min(this.retryMs, this.timing.retryMaxMs);
    this.retryMs = Math.min(this.retryMs * 2, this.timing.retryMaxMs);
    setTimeout(() => void this.open(), wait).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.up = false;
    this.listeners.clear();
    if (client) await client.end().catch(() => {});
  }
}
