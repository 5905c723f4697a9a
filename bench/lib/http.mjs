// Minimal HTTP client for the benchmark: node:http with a keep-alive agent, no dependencies.
import http from 'node:http';

/** Thrown when a response does not have the expected status; carries what is needed to report it. */
export class HttpError extends Error {
  constructor(what, res, expected) {
    const body = res.body ? res.body.toString('utf8').slice(0, 1000) : '';
    super(`${what}: ${res.method} ${res.path} -> ${res.status} (expected ${expected.join('|')}) ${body}`);
    this.request = {
      what,
      method: res.method,
      path: res.path,
      status: res.status,
      expected,
      body,
      headers: res.headers,
    };
  }
}

export class Client {
  /**
   * @param {string} base e.g. http://127.0.0.1:5000
   * @param {number} maxSockets concurrent connections kept alive
   */
  constructor(base, maxSockets = 8) {
    this.base = base;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.requests = 0;
  }

  close() {
    this.agent.destroy();
  }

  /**
   * One request. body: undefined | Buffer | string | Readable.
   * A Readable is streamed with Transfer-Encoding: chunked (no Content-Length), as docker/podman do for PATCH.
   * chunked: true also sends a Buffer chunked.
   * discard: true counts the response bytes without keeping them.
   */
  request(method, path, { headers = {}, body, chunked = false, discard = false } = {}) {
    const u = path instanceof URL ? path : new URL(path, this.base);
    this.requests++;
    return new Promise((resolve, reject) => {
      const req = http.request(u, { method, headers, agent: this.agent }, (res) => {
        const chunks = [];
        let bytes = 0;
        res.on('data', (c) => {
          bytes += c.length;
          if (!discard) chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            method,
            path: u.pathname + u.search,
            url: u,
            status: res.statusCode,
            headers: res.headers,
            body: discard ? null : Buffer.concat(chunks),
            bytes,
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body == null) {
        req.end();
      } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
        if (chunked) {
          // write() before end() makes node use chunked encoding instead of Content-Length.
          req.write(body);
          req.end();
        } else {
          req.setHeader('content-length', Buffer.byteLength(body));
          req.end(body);
        }
      } else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  async expect(what, expected, method, path, opts) {
    const res = await this.request(method, path, opts);
    if (!expected.includes(res.status)) throw new HttpError(what, res, expected);
    return res;
  }
}

/** Parse an RFC 5988 Link header and return the rel="next" target, or null. */
export function nextLink(linkHeader) {
  if (!linkHeader) return null;
  for (const part of String(linkHeader).split(/,(?=\s*<)/)) {
    const m = part.match(/<([^>]*)>\s*;(.*)$/);
    if (m && /rel="?next"?/.test(m[2])) return m[1];
  }
  return null;
}

/** Run fn over items with at most `concurrency` in flight; rejects on the first failure. */
export async function pool(items, concurrency, fn) {
  let i = 0;
  let failed = null;
  const results = new Array(items.length);
  async function worker() {
    while (!failed && i < items.length) {
      const k = i++;
      try {
        results[k] = await fn(items[k], k);
      } catch (e) {
        failed ??= e;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failed) throw failed;
  return results;
}
