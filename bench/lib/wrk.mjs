// Run wrk against a URL with bench/wrk/request.lua and return its summary.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LUA = fileURLToPath(new URL('../wrk/request.lua', import.meta.url));

/**
 * @param {string} url
 * @param {{method?: string, accept?: string[], acceptJoined?: boolean, seconds: number, threads?: number, connections?: number}} o
 */
export function runWrk(
  url,
  { method = 'GET', accept = [], acceptJoined = false, seconds, threads = 2, connections = 32 },
) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', LUA, url];
  const env = {
    ...process.env,
    WRK_METHOD: method,
    WRK_ACCEPT: accept.join('|'),
    WRK_ACCEPT_JOINED: acceptJoined ? '1' : '0',
  };
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      const m = out.match(/^WRKJSON (.*)$/m);
      if (code !== 0 || !m) return reject(new Error(`wrk ${args.join(' ')} exited ${code}\n${out}\n${err}`));
      const s = JSON.parse(m[1]);
      const non2xx3xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
      const secs = s.duration_us / 1e6;
      resolve({
        ...s,
        non2xx3xx,
        rps: s.requests / secs,
        mibps: s.bytes / secs / 2 ** 20,
        socketErrors: s.err_connect + s.err_read + s.err_write + s.err_timeout,
        pid: p.pid,
      });
    });
  });
}
