// Start/stop the registries under test and read their CPU time and memory from /proc.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kuraMain } from './kura.mjs';

export const CLK_TCK = 100;
export const DISTRIBUTION_BIN = process.env.DISTRIBUTION_BIN || '/usr/bin/docker-registry';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** [utime, stime] of a process, in clock ticks (all threads). */
export function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields after "(comm) ": state is field 3 overall; utime is field 14 -> index 11 here, stime 15 -> index 12
  return [Number(f[11]), Number(f[12])];
}

/** utime + stime of a process, in clock ticks (all threads). */
export function cpuTicks(pid) {
  const [u, s] = cpuTimes(pid);
  return u + s;
}

function statusKiB(pid, key) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
export const rssKiB = (pid) => statusKiB(pid, 'VmRSS');
export const hwmKiB = (pid) => statusKiB(pid, 'VmHWM');

function getStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(1000, () => req.destroy());
  });
}

function tail(buf, n = 4000) {
  return buf.length > n ? buf.slice(-n) : buf;
}

/**
 * Spawn and wait for readiness. ready(stderrSoFar) may return true early; /v2/ answering 200 or 401 always counts.
 * Resolves { proc, stderr() } or rejects with the process's exit code and stderr.
 *
 * The server's stderr goes to a file in cwd, never a pipe: a benchmark that runs a client with
 * execFileSync stops draining a pipe, and Distribution, which logs every 404 at level error, then blocks in
 * its logger and stops answering (bench/copy.mjs's set-up once "hung" exactly so; src/test/distribution-log.test.ts).
 */
async function spawnAndWait(cmd, args, { cwd, base, readyLine, timeoutMs = 20000, env }) {
  const logPath = path.join(cwd, `server-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const fd = openSync(logPath, 'a');
  const proc = spawn(cmd, args, {
    cwd,
    stdio: ['ignore', 'ignore', fd],
    env: env ? { ...process.env, ...env } : undefined,
  });
  closeSync(fd);
  const readLog = () => {
    try {
      return tail(readFileSync(logPath, 'utf8'), 20000);
    } catch {
      return '';
    }
  };
  let exited = null;
  proc.on('exit', (code, sig) => {
    exited = { code, sig };
  });
  proc.on('error', (e) => {
    exited = { code: -1, sig: null, error: e.message };
  });
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (exited) break;
    if (readyLine && readyLine.test(readLog())) {
      const st = await getStatus(`${base}/v2/`);
      if (st === 200 || st === 401) return { proc, stderr: readLog };
    } else if (!readyLine) {
      const st = await getStatus(`${base}/v2/`);
      if (st === 200 || st === 401) return { proc, stderr: readLog };
    }
    await sleep(20);
  }
  if (!exited) proc.kill('SIGKILL');
  const stderr = readLog();
  const err = new Error(
    `${cmd} ${args.join(' ')}: ${exited ? `exited (code ${exited.code}, signal ${exited.sig})` : 'not ready in time'}\n${tail(stderr, 2000)}`,
  );
  err.exited = exited;
  err.stderr = stderr;
  throw err;
}

async function stopProc(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

/**
 * Distribution's config: filesystem storage (or, with `s3`, its s3 driver on that server under s3.prefix, blob GETs
 * streamed like Kura's rather than redirected), warn logs, deletes on, access log off, Debian's default blob cache.
 */
export function distributionConfig(dataDir, port, s3) {
  const storage = s3
    ? `  s3:
    accesskey: ${s3.accessKeyId}
    secretkey: ${s3.secretAccessKey}
    region: ${s3.region ?? 'us-east-1'}
    regionendpoint: ${s3.endpoint}
    forcepathstyle: true
    bucket: ${s3.bucket}
    rootdirectory: /${s3.prefix}
    v4auth: true
    secure: ${s3.endpoint.startsWith('https:')}
  redirect:
    disable: true`
    : `  filesystem:
    rootdirectory: ${dataDir}`;
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
${storage}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:${port}
  secret: ocikura-bench-secret
`;
}

/** Kura's configuration for bench/s3.mjs, as environment variables (the keys stay off the command line). */
function kuraS3Env(s3) {
  return {
    KURA_STORAGE_DRIVER: 's3',
    KURA_STORAGE_S3_BUCKET: s3.bucket,
    KURA_STORAGE_S3_PREFIX: s3.prefix,
    KURA_STORAGE_S3_ENDPOINT: s3.endpoint,
    KURA_STORAGE_S3_REGION: s3.region ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    ...(s3.postgres
      ? {
          KURA_METADATA_DRIVER: 'postgres',
          KURA_METADATA_POSTGRES_URL: s3.postgres.url,
          KURA_METADATA_POSTGRES_SCHEMA: s3.postgres.schema,
        }
      : {}),
  };
}

let kuraLogFlag = null; // null = unknown, true/false once learnt

/**
 * Start a fresh server of `kind` ('distribution' | 'kura') on a random loopback port with an empty data dir.
 * With `s3` ({ endpoint, bucket, prefix, accessKeyId, secretAccessKey, region?, postgres?: { url, schema } }) both
 * keep blobs in that bucket under `prefix` (bench/s3.mjs), and Kura its metadata in that PostgreSQL schema.
 */
export async function startServer(kind, { repoRoot, s3 }) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `ocikura-bench-${kind}-`));
  const dataDir = path.join(tmp, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const notes = {};
  let started;
  try {
    if (kind === 'distribution') {
      const cfg = path.join(tmp, 'config.yml');
      writeFileSync(cfg, distributionConfig(dataDir, port, s3));
      // Its AWS SDK panics at start when AWS_CA_BUNDLE is set (LoadCustomCABundleError): not passed on.
      const env = s3 ? { AWS_CA_BUNDLE: undefined } : undefined;
      started = await spawnAndWait(DISTRIBUTION_BIN, ['serve', cfg], { cwd: tmp, base, env });
    } else if (kind === 'kura') {
      const main = kuraMain();
      // KURA_BENCH_NODE_ARGS: extra node flags for the Kura process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
      const nodeArgs = (process.env.KURA_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const args = [...nodeArgs, main, 'serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir];
      const readyLine = /listening on http:\/\//;
      const env = s3 ? kuraS3Env(s3) : undefined;
      if (kuraLogFlag !== false) {
        try {
          started = await spawnAndWait(process.execPath, [...args, '--log-level', 'warn'], {
            cwd: tmp,
            base,
            readyLine,
            env,
          });
          kuraLogFlag = true;
        } catch (e) {
          if (e.exited && /log-level|unknown option/i.test(e.stderr)) {
            kuraLogFlag = false;
          } else throw e;
        }
      }
      if (!started) started = await spawnAndWait(process.execPath, args, { cwd: tmp, base, readyLine, env });
      notes.logFlag = kuraLogFlag ? '--log-level warn' : 'none (flag rejected); stdout discarded';
    } else throw new Error(`unknown server kind ${kind}`);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const { proc } = started;
  const pid = proc.pid;
  return {
    kind,
    pid,
    port,
    base,
    dataDir,
    notes,
    stderr: started.stderr,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    cpuTicks: () => cpuTicks(pid),
    cpuTimes: () => cpuTimes(pid),
    rssKiB: () => rssKiB(pid),
    hwmKiB: () => hwmKiB(pid),
    async stop() {
      await stopProc(proc);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * Measure one phase against a server: wall time, server CPU (utime+stime delta), peak VmRSS polled every 50 ms,
 * and this process's own CPU (the client).
 */
export async function measure(server, fn) {
  const [u0, s0] = server.cpuTimes();
  let peak = server.rssKiB();
  const poll = setInterval(() => {
    const r = server.rssKiB();
    if (r > peak) peak = r;
  }, 50);
  const cc0 = process.cpuUsage();
  const t0 = performance.now();
  let result;
  try {
    result = await fn();
  } finally {
    clearInterval(poll);
  }
  const wallMs = performance.now() - t0;
  const r = server.rssKiB();
  if (r > peak) peak = r;
  const [u1, s1] = server.cpuTimes();
  const cpuUserMs = ((u1 - u0) * 1000) / CLK_TCK;
  const cpuSysMs = ((s1 - s0) * 1000) / CLK_TCK;
  const cc = process.cpuUsage(cc0);
  return {
    wallMs,
    cpuMs: cpuUserMs + cpuSysMs,
    cpuUserMs,
    cpuSysMs,
    peakRssKiB: peak,
    clientCpuMs: (cc.user + cc.system) / 1000,
    result,
  };
}
