// Webhook events in the server: the recorder the registry writes events with, and the delivery job (`notifications`).
import type { ServeConfig } from '../config/schema.js';
import type { EndpointConfig, NotificationRecorder } from '../events/index.js';
import type { MetadataStore } from '../metadata/types.js';
import { every, type Job, type JobLog } from './jobs.js';
import type { ServerMetrics } from './metrics.js';

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
