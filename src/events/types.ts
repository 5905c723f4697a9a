// Webhook endpoints as configured (`notifications.endpoints`, Distribution's keys) and the event format they get.

/** Distribution's envelope media type: receivers written for registry:2 check it. */
export const ENVELOPE_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

export interface EndpointConfig {
  name: string;
  url: string;
  disabled: boolean;
  /** Extra request headers (a header with several values is sent once per value). */
  headers: Record<string, string[]>;
  timeoutMs: number;
  /** Failures in a row after which the endpoint waits `backoffMs` before the next try. */
  threshold: number;
  backoffMs: number;
  /** Events whose target has one of these media types are not sent here. */
  ignoredMediaTypes: string[];
  /** Actions (push, pull, delete, mount) not sent here. */
  ignoredActions: string[];
  /** registry:2 envelopes (the default) or one CloudEvents 1.0 JSON event per POST. */
  format?: 'distribution' | 'cloudevents';
  /** HMAC-SHA256 key signing every POST (X-Kura-Signature); never logged. */
  secret?: string;
}

/** One event in Distribution's notification format (notifications/event.go). */
export interface NotificationEvent {
  id: string;
  timestamp: string;
  action: string;
  target: {
    mediaType?: string;
    size?: number;
    digest?: string;
    length?: number;
    repository: string;
    fromRepository?: string;
    url?: string;
    tag?: string;
  };
  request: { id: string; addr: string; host: string; method: string; useragent: string };
  actor: { name?: string };
  source: { addr: string; instanceID: string };
}

/** What an endpoint receives: `{"events": [...]}`. */
export interface Envelope {
  events: NotificationEvent[];
}

/** Structured-mode CloudEvents JSON (one event per request body). */
export const CLOUDEVENTS_MEDIA_TYPE = 'application/cloudevents+json';

/** One CloudEvents 1.0 event as Kura sends it (JSON format, structured mode). */
export interface KuraCloudEvent {
  specversion: '1.0';
  /** The change's id: the same in every retry and in the registry:2 event of the same change. */
  id: string;
  source: string;
  /** dev.kura.manifest.pushed, dev.kura.blob.mounted, dev.kura.tag.deleted, ... */
  type: string;
  /** repository:tag or repository@digest. */
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: {
    action: string;
    repository: string;
    digest?: string;
    mediaType?: string;
    size?: number;
    tag?: string;
    fromRepository?: string;
    url?: string;
    actor?: string;
    request?: { id: string; addr: string; host: string; method: string; useragent: string };
  };
}
