/**
 * What the registry tells webhooks: the request a change came from (set by the HTTP layer around each /v2
 * request, read here through AsyncLocalStorage so no service signature carries it) and the recorder that turns
 * a change into outbox rows (src/events/ builds Distribution's notification events; absent: no events).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { OutboxEntry } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';

/** The request behind a change, as Distribution's events carry it. */
export interface RequestFacts {
  id: string;
  /** The client's address. */
  addr: string;
  /** The Host the client asked for. */
  host: string;
  method: string;
  useragent: string;
  /** The signed-in user, or null. */
  actor: string | null;
  /** scheme://host of the registry as the client reached it (event target URLs). */
  baseUrl: string;
}

/** The facts of the request being handled; the HTTP layer runs each /v2 request inside `requestScope.run`. */
export const requestScope = new AsyncLocalStorage<RequestFacts>();

export type EventAction = 'push' | 'pull' | 'delete' | 'mount';

/** What a change touched. */
export interface EventTarget {
  kind: 'manifest' | 'blob';
  repository: string;
  digest?: Digest;
  mediaType?: string;
  size?: number;
  tag?: string;
  /** Mounts: the repository the blob came from. */
  fromRepository?: string;
}

/** Turns a change into outbox rows, one per endpoint that wants it (none when no endpoint does). */
export interface EventRecorder {
  entries(action: EventAction, target: EventTarget, request: RequestFacts | undefined): OutboxEntry[];
}
