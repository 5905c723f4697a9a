/**
 * The deliverer: claims due events from the outbox (leased to this process), posts each endpoint's in one
 * envelope (CloudEvents endpoints: one POST per event, in order), deletes them once the endpoint answers 2xx or
 * 3xx (as Distribution's HTTP sink), and gives them back for another try otherwise. At least once: an event is
 * deleted only after its endpoint took it, so a crash or a lost answer sends it again. In order per endpoint and
 * repository: the outbox holds back a repository's later events while an earlier one is leased or waiting to be
 * retried.
 */
import { randomUUID } from 'node:crypto';
import type { EventOutbox, OutboxEvent } from '../metadata/types.js';
import { signatureHeaders } from './cloudevents.js';
import { CLOUDEVENTS_MEDIA_TYPE, ENVELOPE_MEDIA_TYPE, type EndpointConfig } from './types.js';

/** Most events claimed (and so sent to one endpoint in one envelope) per round. */
export const BATCH = 100;

export interface DeliveryHooks {
  /** A delivery that failed (metrics). */
  failed?(endpoint: string, reason: string): void;
  /** Events delivered (metrics). */
  delivered?(endpoint: string, count: number): void;
}

export class EventDelivery {
  /** This process's lease owner name: unique per process, so a restarted replica never acknowledges old leases. */
  readonly owner = randomUUID();
  private readonly endpoints: EndpointConfig[];
  /** Per endpoint: failures in a row, and until when it rests after `threshold` of them. */
  private readonly health = new Map<string, { failures: number; restUntil: number }>();

  constructor(
    private readonly outbox: EventOutbox,
    endpoints: EndpointConfig[],
    private readonly hooks: DeliveryHooks = {},
    private readonly now: () => number = Date.now,
  ) {
    this.endpoints = endpoints.filter((e) => !e.disabled);
  }

  /** One round: claims what is due and delivers it. Resolves to how many events were claimed (BATCH: more wait). */
  async round(): Promise<number> {
    const now = this.now();
    const ready = this.endpoints.filter((e) => (this.health.get(e.name)?.restUntil ?? 0) <= now);
    if (ready.length === 0) return 0;
    // Long enough for every endpoint's one request, with room for a slow database.
    const lease = now + Math.max(...ready.map((e) => e.timeoutMs)) + 30_000;
    const claimed = await this.outbox.claim(
      this.owner,
      ready.map((e) => e.name),
      now,
      lease,
      BATCH,
    );
    const byEndpoint = new Map<string, OutboxEvent[]>();
    for (const ev of claimed) byEndpoint.set(ev.endpoint, [...(byEndpoint.get(ev.endpoint) ?? []), ev]);
    await Promise.all(ready.filter((e) => byEndpoint.has(e.name)).map((e) => this.deliver(e, byEndpoint.get(e.name)!)));
    return claimed.length;
  }

  private async deliver(endpoint: EndpointConfig, events: OutboxEvent[]): Promise<void> {
    // registry:2 envelopes carry the whole batch; CloudEvents structured mode is one event per POST, in order.
    const bodies =
      endpoint.format === 'cloudevents'
        ? events.map((e) => ({ body: e.payload, events: [e] }))
        : [{ body: `{"events":[${events.map((e) => e.payload).join(',')}]}`, events }];
    let sent = 0;
    let failure: string | null = null;
    for (const b of bodies) {
      failure = await post(endpoint, b.body, this.now());
      if (failure !== null) break;
      sent += b.events.length;
    }
    if (sent > 0) {
      await this.outbox.ack(
        this.owner,
        events.slice(0, sent).map((e) => e.id),
      );
      this.hooks.delivered?.(endpoint.name, sent);
    }
    if (failure === null) {
      this.health.delete(endpoint.name);
      return;
    }
    this.hooks.failed?.(endpoint.name, failure);
    const h = this.health.get(endpoint.name) ?? { failures: 0, restUntil: 0 };
    h.failures = sent > 0 ? 1 : h.failures + 1;
    const now = this.now();
    // Below the threshold the next round tries again; from it on, the endpoint rests for `backoff`.
    if (h.failures >= endpoint.threshold) h.restUntil = now + endpoint.backoffMs;
    this.health.set(endpoint.name, h);
    const rest = events.slice(sent).map((e) => e.id);
    await this.outbox.retry(this.owner, rest, h.failures >= endpoint.threshold ? h.restUntil : now);
  }
}

/** POSTs one body (signed when the endpoint has a secret); null when the endpoint took it, else why not. */
async function post(endpoint: EndpointConfig, body: string, now: number): Promise<string | null> {
  const headers = new Headers();
  for (const [name, values] of Object.entries(endpoint.headers)) for (const v of values) headers.append(name, v);
  headers.set('content-type', endpoint.format === 'cloudevents' ? CLOUDEVENTS_MEDIA_TYPE : ENVELOPE_MEDIA_TYPE);
  if (endpoint.secret !== undefined) {
    for (const [name, value] of Object.entries(signatureHeaders(endpoint.secret, body, now))) headers.set(name, value);
  }
  try {
    const res = await fetch(endpoint.url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(endpoint.timeoutMs),
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 400 ? null : `status ${res.status}`;
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return err.name === 'TimeoutError' ? 'timeout' : (err.cause?.code ?? err.name ?? 'error');
  }
}
