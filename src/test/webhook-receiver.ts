// Test helper (not a test): a real local webhook receiver that records what Kura POSTs and can answer errors.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Envelope, NotificationEvent } from '../events/types.js';

export interface Received {
  headers: IncomingHttpHeaders;
  events: NotificationEvent[];
  /** The body exactly as received (signatures are over these bytes). */
  raw: Buffer;
}

export class Receiver {
  readonly posts: Received[] = [];
  /** Bodies answered with an error (what a retry must send again). */
  readonly rejected: Buffer[] = [];
  /** The status it answers with (200: taken). */
  status = 200;
  /** When set, decides per request whether to answer 500 instead (a flaky receiver). */
  flaky: (() => boolean) | null = null;
  private server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  get events(): NotificationEvent[] {
    return this.posts.flatMap((p) => p.events);
  }

  /** Listens on `port` (0: a free one, kept for later restarts). */
  async start(port = this.port): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = this.flaky?.() ? 500 : this.status;
        if (status < 300) {
          const raw = Buffer.concat(chunks);
          const body = JSON.parse(raw.toString('utf8')) as Envelope | NotificationEvent;
          // A structured-mode CloudEvent is one event per body; registry:2 envelopes hold a list.
          const events = 'events' in body ? body.events : [body];
          this.posts.push({ headers: req.headers, events, raw });
        } else this.rejected.push(Buffer.concat(chunks));
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()).closeAllConnections());
  }

  /** Waits until `n` events arrived (or fails after `ms`). */
  async waitFor(n: number, ms = 15_000): Promise<NotificationEvent[]> {
    const end = Date.now() + ms;
    while (this.events.length < n) {
      if (Date.now() > end) throw new Error(`got ${this.events.length} events, expected ${n}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.events;
  }
}
