/**
 * Turns a registry change into outbox rows: one Distribution notification event per endpoint that wants it
 * (not disabled, the action and the target's media type not ignored), serialized once per event and format
 * (the CloudEvent of a change has its registry:2 event's id, so both are stable across retries).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { OutboxEntry } from '../metadata/types.js';
import type { EventAction, EventRecorder, EventTarget, RequestFacts } from '../registry/events.js';
import { toCloudEvent } from './cloudevents.js';
import type { EndpointConfig, NotificationEvent } from './types.js';

export class NotificationRecorder implements EventRecorder {
  /** This process in every event's `source` (Distribution: the instance's address and a per-process id). */
  readonly source = { addr: hostname(), instanceID: randomUUID() };
  private readonly endpoints: EndpointConfig[];

  constructor(
    endpoints: EndpointConfig[],
    private readonly now: () => number = Date.now,
  ) {
    this.endpoints = endpoints.filter((e) => !e.disabled);
  }

  /** The address the server listens on, once known (source.addr is hostname:port, as in Distribution). */
  listening(port: number): void {
    this.source.addr = `${hostname()}:${port}`;
  }

  entries(action: EventAction, target: EventTarget, request: RequestFacts | undefined): OutboxEntry[] {
    const wanted = this.endpoints.filter(
      (e) =>
        !e.ignoredActions.includes(action) &&
        !(target.mediaType !== undefined && e.ignoredMediaTypes.includes(target.mediaType)),
    );
    if (wanted.length === 0) return [];
    const event = this.event(action, target, request);
    const payload = JSON.stringify(event);
    let cloud: string | undefined;
    const payloadFor = (e: EndpointConfig): string =>
      e.format === 'cloudevents'
        ? (cloud ??= JSON.stringify(toCloudEvent(action, target, event, request?.baseUrl)))
        : payload;
    return wanted.map((e) => ({ endpoint: e.name, repo: target.repository, payload: payloadFor(e) }));
  }

  private event(action: EventAction, t: EventTarget, request: RequestFacts | undefined): NotificationEvent {
    // Deletes name only what was deleted, as Distribution's do; the others describe the content and where it is.
    const described = action !== 'delete' && t.digest !== undefined;
    const path = t.kind === 'manifest' ? 'manifests' : 'blobs';
    return {
      id: randomUUID(),
      timestamp: new Date(this.now()).toISOString(),
      action,
      target: {
        ...(described ? { mediaType: t.mediaType, size: t.size } : {}),
        ...(t.digest ? { digest: t.digest } : {}),
        ...(described ? { length: t.size } : {}),
        repository: t.repository,
        ...(t.fromRepository ? { fromRepository: t.fromRepository } : {}),
        ...(described && request ? { url: `${request.baseUrl}/v2/${t.repository}/${path}/${t.digest}` } : {}),
        ...(t.tag ? { tag: t.tag } : {}),
      },
      request: request
        ? {
            id: request.id,
            addr: request.addr,
            host: request.host,
            method: request.method,
            useragent: request.useragent,
          }
        : { id: '', addr: '', host: '', method: '', useragent: '' },
      actor: request?.actor ? { name: request.actor } : {},
      source: { ...this.source },
    };
  }
}
