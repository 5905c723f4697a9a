/** The server's background jobs: upload and audit purge, GC, pull and audit write-behind, retention. */
import type { ServeConfig } from '../config/schema.js';
import type { Registry } from '../registry/registry.js';

export interface Job {
  cancel(): void;
  /** The run in progress, if any. */
  readonly running: Promise<void> | null;
}

export interface JobLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A background task every `intervalMs` (0 = never), one run at a time; `running` settles when idle. */
export function every(intervalMs: number, task: () => Promise<void>, onError: (e: unknown) => void): Job {
  let running: Promise<void> | null = null;
  const timer =
    intervalMs > 0
      ? setInterval(
          () => {
            running ??= task()
              .catch(onError)
              .finally(() => (running = null));
          },
          Math.max(intervalMs, 10),
        )
      : null;
  timer?.unref();
  return {
    cancel: () => timer && clearInterval(timer),
    get running() {
      return running;
    },
  };
}

/** Starts the jobs the configuration asks for; cancel each (and await `running`) before closing the registry. */
export function startJobs(registry: Registry, config: ServeConfig, log: JobLog): Job[] {
  const failed = (what: string) => (e: unknown) => log.error({ err: e }, `${what} failed`);
  return [
    every(
      config.uploads.purgeInterval,
      async () => {
        await registry.purgeUploads(config.uploads.purgeAfter);
        await registry.purgeAudit(Date.now() - config.audit.keep);
      },
      failed('upload and audit purge'),
    ),
    every(
      config.gc.interval,
      async () => {
        const r = await registry.collectGarbage({ uploadsOlderThanMs: config.uploads.purgeAfter });
        if (r.skipped) return log.info({ skipped: r.skipped }, 'garbage collection');
        const { swept, uploadsPurged } = r;
        log.info(
          { blobs: r.blobs.length, bytes: r.bytes, swept, unrecorded: r.unrecorded.length, uploadsPurged },
          'garbage collection',
        );
      },
      failed('garbage collection'),
    ),
    // Pulls are counted in memory and written in batches, so a pull costs no write; so is the audit trail.
    every(10_000, () => registry.flushPulls(), failed('recording pulls')),
    every(2_000, () => registry.flushAudit(), failed('writing the audit log')),
    every(
      config.retention.interval,
      async () => {
        const plan = await registry.planRetention();
        const r = await registry.applyRetention(plan);
        for (const a of plan.actions) log.info({ retention: a }, 'retention removed');
        log.info({ ...r, repositories: plan.repositories }, 'retention applied');
      },
      failed('retention'),
    ),
  ];
}
