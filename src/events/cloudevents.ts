/**
 * CloudEvents 1.0 (JSON format, structured mode) for endpoints with `format: cloudevents`, and the HMAC-SHA256
 * signature every endpoint with a secret gets. One CloudEvent per registry:2 event, with the same id.
 */
import { createHmac } from 'node:crypto';
import type { EventAction, EventTarget } from '../registry/events.js';
import type { KuraCloudEvent, NotificationEvent } from './types.js';

const PAST: Record<EventAction, string> = { push: 'pushed', pull: 'pulled', delete: 'deleted', mount: 'mounted' };

/** dev.kura.{manifest,blob}.{pushed,pulled,deleted,mounted}; a delete by tag is dev.kura.tag.deleted. */
export function cloudEventType(action: EventAction, target: EventTarget): string {
  const what = action === 'delete' && target.tag !== undefined && target.digest === undefined ? 'tag' : target.kind;
  return `dev.kura.${what}.${PAST[action]}`;
}

/** The CloudEvent of a change, built from its registry:2 event (same id, time and facts). */
export function toCloudEvent(
  action: EventAction,
  target: EventTarget,
  event: NotificationEvent,
  baseUrl: string | undefined,
): KuraCloudEvent {
  const t = event.target;
  const subject = t.tag !== undefined ? `${t.repository}:${t.tag}` : `${t.repository}@${t.digest ?? ''}`;
  const r = event.request;
  return {
    specversion: '1.0',
    id: event.id,
    // The registry as its clients reach it (the same behind a load balancer); offline writers name their host.
    source: baseUrl ?? `urn:kura:${event.source.addr}`,
    type: cloudEventType(action, target),
    subject,
    time: event.timestamp,
    datacontenttype: 'application/json',
    data: {
      action,
      repository: t.repository,
      ...(t.digest !== undefined ? { digest: t.digest } : {}),
      ...(t.mediaType !== undefined ? { mediaType: t.mediaType } : {}),
      ...(t.size !== undefined ? { size: t.size } : {}),
      ...(t.tag !== undefined ? { tag: t.tag } : {}),
      ...(t.fromRepository !== undefined ? { fromRepository: t.fromRepository } : {}),
      ...(t.url !== undefined ? { url: t.url } : {}),
      ...(event.actor.name !== undefined ? { actor: event.actor.name } : {}),
      ...(r.id !== '' ? { request: r } : {}),
    },
  };
}

/**
 * The signature headers of one POST: `X-Kura-Timestamp: <unix seconds>` and
 * `X-Kura-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` over the exact body bytes sent.
 * Receivers recompute it and reject old timestamps (replays); see docs/events.md.
 */
export function signatureHeaders(secret: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return { 'x-kura-timestamp': timestamp, 'x-kura-signature': `sha256=${mac}` };
}
