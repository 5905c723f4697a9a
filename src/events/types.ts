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
