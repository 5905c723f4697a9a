// Webhook events in the server: the recorder the registry writes events with, and the delivery job (`notifications`).
import { readFileSync } from 'node:fs';
import type { ServeConfig } from '../config/schema.js';
import type { EndpointConfig, NotificationRecorder } from '../events/index.js';
import type { MetadataStore } from '../metadata/types.js';
import { every, type Job, type JobLog } from './jobs.js';
import type { ServerMetrics } from './metrics.js';

/** An endpoint's signing secret: `secret`, or the first line of `secretFile` (read at start). */
function secretOf(e: ServeConfig['notifications']['endpoints'][number]): string | undefined {
  if (e.secretFile === undefined) return e.secret;
  let line: string;
  try {
    line = readFileSync(e.secretFile, 'utf8').split(/\r?\n/)[0]!.trim();
  } catch (err) {
    throw new Error(
      `notification endpoint "${e.name}": cannot read secretFile ${e.secretFile} (${(err as Error).message})`,
    );
  }
  if (line.length < 16) {
    throw new Error(`notification endpoint "${e.name}": secretFile ${e.secretFile} must hold a secret of 16+ chars`);
  }
  return line;
}

export function endpointsOf(config: ServeConfig): EndpointConfig[] {
  return config.notifications.endpoints.map((e) => ({
    name: e.name,
    url: e.url,
    disabled: e.disabled,
    headers: e.headers,
    timeoutMs: e.timeout,
    threshold: e.threshold,
    backoffMs: e.backoff,
    ignoredMediaTypes: [...e.ignoredmediatypes, ...e.ignore.mediatypes],
    ignoredActions: e.ignore.actions,
    format: e.format,
    secret: e.disabled ? undefined : secretOf(e),
  }));
}

/** The recorder for the registry's options, when an endpoint is enabled (src/events/ is loaded only then). */
export async function recorderFor(config: ServeConfig): Promise<NotificationRecorder | undefined> {
  const endpoints = endpointsOf(config).filter((e) => !e.disabled);
  if (endpoints.length === 0) return undefined;
  return new (await import('../events/index.js')).NotificationRecorder(endpoints);
}

/**
 * Delivers the outbox every `notifications.interval`; a round that claimed a full batch is followed by another
 * at once. Every replica runs one: the outbox's leases give each event to one of them.
 */
export async function startDelivery(
  meta: MetadataStore,
  config: ServeConfig,
  log: JobLog,
  metrics?: ServerMetrics,
): Promise<Job | null> {
  const endpoints = endpointsOf(config).filter((e) => !e.disabled);
  if (endpoints.length === 0) return null;
  const { EventDelivery, BATCH } = await import('../events/index.js');
  const delivery = new EventDelivery(meta.events, endpoints, {
    failed: (endpoint, reason) => {
      metrics?.eventFailed(endpoint);
      log.info({ endpoint, reason }, 'event delivery failed; will retry');
    },
    delivered: (endpoint, count) => metrics?.eventsDelivered(endpoint, count),
  });
  return every(
    config.notifications.interval,
    async () => {
      while ((await delivery.round()) === BATCH);
    },
    (e) => log.error({ err: e }, 'event delivery failed'),
  );
}
