/**
 * Test helper (not a test): a node:http reverse proxy in front of a registry that records every
 * request and lets a test answer some of them itself (429s, 503s, redirects, dropped connections).
 */
import { createServer, request, type IncomingMessage, type ServerResponse, type IncomingHttpHeaders } from 'node:http';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface Proxy {
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  seen: Seen[];
  close(): Promise<void>;
}

/**
 * Return true when the test answered the request itself. `forward` sends it on and returns the
 * upstream status; with `drop`, the upstream answer is read and the client's connection is cut instead.
 */
export type Intercept = (
  req: IncomingMessage,
  res: ServerResponse,
  forward: (drop?: boolean, edit?: (headers: IncomingHttpHeaders) => void) => Promise<number>,
) => boolean | Promise<boolean>;

/** Starts a proxy to `target` (an origin) on a free loopback port. */
export async function startProxy(target: string, intercept?: Intercept): Promise<Proxy> {
  const seen: Seen[] = [];
  const up = new URL(target);
  const upstream = new Set<ReturnType<typeof request>>();
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const forward = (drop = false, edit?: (headers: IncomingHttpHeaders) => void) =>
      new Promise<number>((resolve, reject) => {
        const out = request(
          {
            host: up.hostname,
            port: up.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, connection: 'close' },
            agent: false,
          },
          (r) => {
            if (drop) {
              r.resume();
              r.on('end', () => {
                res.socket?.destroy();
                resolve(r.statusCode ?? 502);
              });
              return;
            }
            edit?.(r.headers);
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
            r.on('end', () => resolve(r.statusCode ?? 502));
          },
        );
        upstream.add(out);
        out.on('close', () => upstream.delete(out));
        out.on('error', reject);
        req.pipe(out);
      });
    void (async () => {
      if (intercept && (await intercept(req, res, forward))) return;
      await forward();
    })().catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((r) => {
        for (const out of upstream) out.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
