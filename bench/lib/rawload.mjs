// A small closed-loop load generator on raw keep-alive sockets, for requests whose responses have no body
// (HEAD). wrk cannot do HEAD: its parser is not told the request was HEAD, so it waits for Content-Length
// bytes that never come. Output has the same shape as runWrk's.
import net from 'node:net';

/**
 * @param {string} base http://127.0.0.1:PORT
 * @param {string} path
 * @param {{method?: string, headers?: Record<string,string>, seconds: number, connections?: number}} o
 */
export function runRawLoad(base, path, { method = 'HEAD', headers = {}, seconds, connections = 32 }) {
  const u = new URL(base);
  const req = Buffer.from(
    `${method} ${path} HTTP/1.1\r\nHost: ${u.host}\r\n` +
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      '\r\n',
  );
  const lat = [];
  let requests = 0;
  let non2xx3xx = 0;
  let errors = 0;
  let bytes = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;

  function conn() {
    return new Promise((resolve) => {
      const s = net.connect({ host: u.hostname, port: Number(u.port) });
      s.setNoDelay(true);
      let buf = '';
      let start = 0;
      const send = () => {
        if (performance.now() >= deadline) {
          s.end();
          return resolve();
        }
        start = performance.now();
        s.write(req);
      };
      s.on('connect', send);
      s.setEncoding('latin1');
      s.on('data', (d) => {
        bytes += d.length;
        buf += d;
        // Responses to HEAD have no body: each one ends at the blank line after the headers.
        let end;
        while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
          const head = buf.slice(0, end);
          buf = buf.slice(end + 4);
          const status = Number(head.slice(9, 12));
          if (!(status >= 200 && status < 400)) non2xx3xx++;
          if (/\r\nconnection:\s*close/i.test(head)) errors++;
          requests++;
          lat.push(performance.now() - start);
          send();
        }
      });
      s.on('error', () => {
        errors++;
        resolve();
      });
      s.on('close', resolve);
    });
  }

  return Promise.all(Array.from({ length: connections }, conn)).then(() => {
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] * 1000 : 0);
    const mean = lat.length ? (lat.reduce((a, b) => a + b, 0) / lat.length) * 1000 : 0;
    return {
      duration_us: secs * 1e6,
      requests,
      bytes,
      err_status: non2xx3xx,
      non2xx3xx,
      socketErrors: errors,
      lat_mean_us: mean,
      lat_p50_us: pct(50),
      lat_p90_us: pct(90),
      lat_p99_us: pct(99),
      lat_max_us: lat.length ? lat[lat.length - 1] * 1000 : 0,
      rps: requests / secs,
      mibps: bytes / secs / 2 ** 20,
      client: 'node raw sockets',
    };
  });
}
