/**
 * Test helper (not a test): Debian's nginx in front of kura replicas, running the configuration printed in
 * docs/deployment.md ("nginx front end", the same text as deploy/nginx.conf) with only the `listen` address
 * and the upstream's `server` lines replaced. The tests of the replica pair use it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './kura-process.js';
import { rawRequest } from './testkit.js';

export interface NginxFront {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** e.g. 127.0.0.1:40123, for image names */
  host: string;
  /** The configuration nginx runs. */
  conf: string;
  /** SIGTERM to the master (it stops its workers), then wait for its exit. */
  stop(): Promise<void>;
}

/** The `nginx` block of docs/deployment.md's "nginx front end" section. */
export async function documentedNginxConf(): Promise<string> {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'deployment.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## nginx front end'));
  const m = /```nginx\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('docs/deployment.md has no ```nginx block under "## nginx front end"');
  return m[1]!;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  await new Promise((ok) => srv.close(ok));
  return port;
}

/** `conf` listening on `port` with `upstreams` (host:port each) as the replicas. */
export function rewriteNginxConf(conf: string, port: number, upstreams: string[]): string {
  const out = conf
    .replace(/listen \d+;/, `listen 127.0.0.1:${port};`)
    .replace(
      /(\s*server 127\.0\.0\.1:\d+[^;]*;)+/,
      upstreams.map((u) => `\n        server ${u} max_fails=1 fail_timeout=10s;`).join(''),
    );
  for (const u of upstreams) if (!out.includes(`server ${u} `)) throw new Error(`upstream ${u} was not written`);
  return out;
}

/** Starts nginx (as a child, `daemon off`) in `dir` in front of `upstreams`; resolves once GET /v2/ answers 200. */
export async function startNginxFront(dir: string, upstreams: string[]): Promise<NginxFront> {
  const port = await freePort();
  const conf = rewriteNginxConf(await documentedNginxConf(), port, upstreams);
  await mkdir(join(dir, 'logs'), { recursive: true });
  await writeFile(join(dir, 'nginx.conf'), conf);
  const global = `daemon off; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log;`;
  const proc: ChildProcess = spawn('nginx', ['-p', dir, '-c', `${dir}/nginx.conf`, '-g', global], { stdio: 'ignore' });
  const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; ; i++) {
    const res = await rawRequest(url, undefined, 'GET', '/v2/', { timeoutMs: 5000 }).catch(() => null);
    if (res?.status === 200) break;
    if (i > 100 || proc.exitCode !== null) {
      await stop();
      const log = await readFile(join(dir, 'logs', 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx did not answer on ${url}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, host: `127.0.0.1:${port}`, conf, stop };
}
