/*
 * Blob bodies sent with sendfile(2) (src/http/sendfile.ts) against the real server: every byte right
 * for whole blobs and ranges, through the fast path, the socket-full path (a slow reader: a worker
 * thread waiting in the kernel, or Node's write when no worker is free), the cold-page path (a blob
 * evicted from the page cache), and streamed when a pipelined response has no socket yet; a client
 * that leaves mid-body, even while a worker waits on its socket, costs neither the connection pool
 * nor an fd; more slow pulls than workers stay exact and never run more jobs than the cap;
 * `http.sendfile: false` and TLS still serve the same bytes, through streams.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sendfileCounters, sendfileHelper, setSendfileHelper, workers, type SendfileHelper } from './sendfile.js';
import { selfSignedCert } from '../test/distribution.js';
import { pushBlob, randomBlob, startTestServer, uniqueRepo, useTestServer, type TestServer } from '../test/testkit.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Got {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A GET read by a client that can pause (to fill the server's socket) or leave early. */
function get(
  url: string,
  opts: {
    agent?: Agent;
    range?: string;
    pauseAfterFirstMs?: number;
    leaveAfter?: number;
    /** Pause this long after every 2 MiB read: a reader slower than the server all along. */
    stutterMs?: number;
  } = {},
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent: opts.agent ?? false, headers: opts.range ? { range: opts.range } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        let paused = false;
        let nextStutter = 2 * MiB;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          n += c.length;
          if (opts.stutterMs && n >= nextStutter) {
            nextStutter += 2 * MiB;
            res.pause();
            setTimeout(() => res.resume(), opts.stutterMs);
          }
          if (opts.leaveAfter !== undefined && n >= opts.leaveAfter) {
            req.destroy();
            resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
            return;
          }
          if (opts.pauseAfterFirstMs && !paused) {
            paused = true;
            res.pause();
            setTimeout(() => res.resume(), opts.pauseAfterFirstMs);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) => (opts.leaveAfter !== undefined ? undefined : reject(e)));
    req.end();
  });
}

/** Open fds of this process (the server runs in it) that point at `path`. */
function fdsOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

/** Asks for a blob, reads its first bytes, stops reading so the server's socket fills, then leaves. */
function stallThenLeave(url: string, stallMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.once('data', (c: Buffer) => {
        res.pause();
        setTimeout(() => {
          req.destroy();
          resolve(c.length);
        }, stallMs);
      });
    });
    req.on('error', () => undefined);
    req.end();
  });
}

/** Waits up to 2 s for `ok()`; returns its last answer. */
async function eventually(ok: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  return ok();
}

const openFds = () => readdirSync('/proc/self/fd').length;

/** Runs `fn` with at most `cap` worker jobs at once. */
async function withWorkerCap<T>(cap: number, fn: () => Promise<T>): Promise<T> {
  const saved = workers.cap;
  workers.cap = cap;
  try {
    return await fn();
  } finally {
    workers.cap = saved;
  }
}

const blobFile = (ts: TestServer, digest: string) =>
  join(ts.dataDir, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));

/**
 * 24 GETs at once over 8 keep-alive connections and fresh ones: a third read fast, a third pause, a
 * third leave after 512 KiB; some ranged. Every body read to its end must be exact, every partial one
 * a right prefix; afterwards no blob fd is left open and the server still answers.
 */
async function mixedLoad(
  ts: TestServer,
  repo: string,
  blobs: { size: number; bytes: Buffer; digest: string }[],
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const jobs = Array.from({ length: 24 }, (_, i) => {
      const b = blobs[i % blobs.length]!;
      const kind = i % 3; // 0 fast, 1 slow, 2 leaves after 512 KiB (the small blobs finish first)
      const ranged = i % 4 === 3 && b.size > 10;
      const range = ranged ? `bytes=${Math.floor(b.size / 3)}-${b.size - 2}` : undefined;
      const expected = ranged ? b.bytes.subarray(Math.floor(b.size / 3), b.size - 1) : b.bytes;
      return get(`${ts.url}/v2/${repo}/blobs/${b.digest}`, {
        agent: kind === 2 ? undefined : agent,
        range,
        pauseAfterFirstMs: kind === 1 ? 50 : 0,
        leaveAfter: kind === 2 ? 512 * 1024 : undefined,
      }).then((r) => ({ r, expected, leaving: kind === 2 }));
    });
    for (const { r, expected, leaving } of await Promise.all(jobs)) {
      if (leaving && r.body.length < expected.length)
        assert.ok(r.body.equals(expected.subarray(0, r.body.length)), 'the prefix read is right');
      else assert.ok(r.body.equals(expected), `${r.body.length} bytes, expected ${expected.length}`);
    }
  } finally {
    agent.destroy();
  }
  for (const b of blobs) {
    let open = fdsOn(blobFile(ts, b.digest));
    for (let i = 0; i < 50 && open > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      open = fdsOn(blobFile(ts, b.digest));
    }
    assert.equal(open, 0, `every fd of the ${b.size}-byte blob was closed`);
  }
  const again = await get(`${ts.url}/v2/${repo}/blobs/${blobs[0]!.digest}`);
  assert.ok(again.body.equals(blobs[0]!.bytes));
}

describe('blob bodies with sendfile(2)', () => {
  const ts = useTestServer();
  const repo = uniqueRepo('sendfile');
  // Sizes around the edges: empty, one byte, a page and a bit, past one 16 MiB sendfile call.
  const blobs = [0, 1, 4097, MiB + 17, 40 * MiB + 3].map((size) => ({ size, bytes: randomBlob(size), digest: '' }));

  test('the helper is built and used on plain HTTP', async () => {
    assert.ok(sendfileHelper(), 'npm install builds build/Release/kura_sendfile.node (python3, make, g++)');
    for (const b of blobs) b.digest = await pushBlob(ts, repo, b.bytes);
    const before = { ...sendfileCounters };
    const r = await get(`${ts.url}/v2/${repo}/blobs/${blobs[3]!.digest}`);
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), sha(blobs[3]!.bytes));
    assert.equal(sendfileCounters.responses, before.responses + 1);
    assert.ok(sendfileCounters.sendfileBytes > before.sendfileBytes, 'bytes went by sendfile');
  });

  test('whole blobs of every size arrive byte-exact, several on one keep-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let round = 0; round < 2; round++) {
        for (const b of blobs) {
          const r = await get(`${ts.url}/v2/${repo}/blobs/${b.digest}`, { agent });
          assert.equal(r.status, 200);
          assert.equal(Number(r.headers['content-length']), b.size);
          assert.equal(r.body.length, b.size, `size ${b.size}`);
          assert.equal(sha(r.body), sha(b.bytes), `size ${b.size}`);
        }
      }
    } finally {
      agent.destroy();
    }
  });

  test('ranges send exactly their bytes', async () => {
    const big = blobs[4]!;
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=5-1000', 5, 1000],
      ['bytes=16777200-16777300', 16777200, 16777300], // across the 16 MiB call boundary
      [`bytes=${big.size - 10}-`, big.size - 10, big.size - 1],
      ['bytes=-4096', big.size - 4096, big.size - 1],
    ];
    for (const [range, start, end] of cases) {
      const r = await get(`${ts.url}/v2/${repo}/blobs/${big.digest}`, { range });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${big.size}`);
      assert.ok(r.body.equals(big.bytes.subarray(start, end + 1)), range);
    }
  });

  test('a reader slower than the server gets every byte: a worker waits in the kernel for room', async () => {
    const big = blobs[4]!;
    assert.ok(sendfileHelper()!.sendfileAsync, 'the built helper has sendfileAsync (rebuild it: npm install)');
    assert.ok(workers.cap >= 1, `at least one worker job may run (cap ${workers.cap})`);
    const before = { ...sendfileCounters };
    const r = await get(`${ts.url}/v2/${repo}/blobs/${big.digest}`, { stutterMs: 20 });
    assert.equal(sha(r.body), sha(big.bytes));
    assert.ok(sendfileCounters.workerJobs > before.workerJobs, 'worker jobs ran');
    assert.ok(sendfileCounters.workerBytes > before.workerBytes, 'and sent bytes');
    assert.equal(workers.busy, 0, 'every job has called back');
  });

  test('a ranged body to a slow reader is exact through the workers', async () => {
    const big = blobs[4]!;
    const [start, end] = [12345, big.size - 7];
    const before = sendfileCounters.workerBytes;
    const r = await get(`${ts.url}/v2/${repo}/blobs/${big.digest}`, { range: `bytes=${start}-${end}`, stutterMs: 20 });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(big.bytes.subarray(start, end + 1)));
    assert.ok(sendfileCounters.workerBytes > before);
  });

  test('a keep-alive connection carries the next request right after a body sent by workers', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = sendfileCounters.workerJobs;
      for (const b of [blobs[4]!, blobs[2]!, blobs[4]!, blobs[1]!]) {
        const r = await get(`${ts.url}/v2/${repo}/blobs/${b.digest}`, { agent, stutterMs: 10 });
        assert.equal(sha(r.body), sha(b.bytes), `size ${b.size}`);
      }
      assert.ok(sendfileCounters.workerJobs > before, 'workers sent the big bodies');
    } finally {
      agent.destroy();
    }
  });

  test('with no worker free, a slow reader is served through Node writes', () =>
    withWorkerCap(0, async () => {
      const big = blobs[4]!;
      const before = { ...sendfileCounters };
      const r = await get(`${ts.url}/v2/${repo}/blobs/${big.digest}`, { pauseAfterFirstMs: 300 });
      assert.equal(sha(r.body), sha(big.bytes));
      assert.ok(sendfileCounters.waitPieces > before.waitPieces, 'the server waited for room through Node');
      assert.equal(sendfileCounters.workerJobs, before.workerJobs, 'no worker job ran');
      assert.ok(sendfileCounters.workersFull > before.workersFull, 'the full cap was counted');
    }));

  test('a client leaving while a worker waits on its socket: the job stops, no fd is left open', async () => {
    const big = blobs[4]!;
    const file = blobFile(ts, big.digest);
    const fds = openFds();
    const before = { ...sendfileCounters };
    // 150 ms: the worker is still inside its 250 ms wait; 600 ms: the reader stalled past a whole job.
    for (const stallMs of [150, 600, 150]) {
      const read = await stallThenLeave(`${ts.url}/v2/${repo}/blobs/${big.digest}`, stallMs);
      assert.ok(read > 0 && read < big.size);
      assert.ok(await eventually(() => workers.busy === 0), 'the worker job called back');
    }
    assert.ok(sendfileCounters.workerJobs > before.workerJobs, 'workers were waiting on the stalled sockets');
    assert.ok(await eventually(() => fdsOn(file) === 0), 'every blob fd was closed');
    assert.ok(await eventually(() => openFds() <= fds), `fds back to ${fds} (now ${openFds()})`);
    const r = await get(`${ts.url}/v2/${repo}/blobs/${blobs[3]!.digest}`);
    assert.equal(sha(r.body), sha(blobs[3]!.bytes));
  });

  test('more slow pulls than workers: every body exact, never more jobs than the cap', () =>
    withWorkerCap(2, async () => {
      const big = blobs[4]!;
      const before = { ...sendfileCounters };
      sendfileCounters.workerPeak = 0;
      const fds = openFds();
      const bodies = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          get(`${ts.url}/v2/${repo}/blobs/${big.digest}`, {
            stutterMs: 10 + 5 * i,
            range: i % 2 ? `bytes=${i * 1000}-` : undefined,
          }),
        ),
      );
      bodies.forEach((r, i) => assert.ok(r.body.equals(big.bytes.subarray(i % 2 ? i * 1000 : 0)), `pull ${i}`));
      assert.ok(
        sendfileCounters.workerPeak >= 1 && sendfileCounters.workerPeak <= 2,
        `peak ${sendfileCounters.workerPeak}`,
      );
      assert.ok(sendfileCounters.workersFull > before.workersFull, 'some waits found every worker busy');
      assert.equal(workers.busy, 0);
      assert.ok(await eventually(() => openFds() <= fds), `fds back to ${fds} (now ${openFds()})`);
    }));

  test('a blob evicted from the page cache arrives byte-exact', async () => {
    const big = blobs[4]!;
    // GNU dd: iflag=nocache with count=0 asks the kernel to drop the file's cached pages. Whether it
    // drops all of them is the kernel's call, so the cold path itself is checked in the next test.
    execFileSync('dd', [`if=${blobFile(ts, big.digest)}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
    const r = await get(`${ts.url}/v2/${repo}/blobs/${big.digest}`);
    assert.equal(sha(r.body), sha(big.bytes));
  });

  test('pieces whose pages are not cached go to a worker, or are read on the thread pool, bytes exact', async () => {
    const big = blobs[4]!;
    const real = sendfileHelper()!;
    for (const cap of [2, 0]) {
      // The real helper, except that its first three answers to "is this page cached?" are no.
      let uncached = 3;
      setSendfileHelper({ ...real, cached: (fd, offset) => (uncached-- > 0 ? false : real.cached(fd, offset)) });
      try {
        const before = { ...sendfileCounters };
        const r = await withWorkerCap(cap, () => get(`${ts.url}/v2/${repo}/blobs/${big.digest}`));
        assert.equal(sha(r.body), sha(big.bytes));
        if (cap > 0) assert.ok(sendfileCounters.workerJobs > before.workerJobs, 'a worker read and sent them');
        else assert.ok(sendfileCounters.coldPieces >= before.coldPieces + 3, 'each went through the thread pool');
        assert.ok(sendfileCounters.sendfileBytes > before.sendfileBytes, 'cached ones by sendfile');
      } finally {
        setSendfileHelper(real);
      }
    }
  });

  test('a client leaving mid-body: no fd left open, the server keeps serving', async () => {
    const big = blobs[4]!;
    const file = blobFile(ts, big.digest);
    for (let i = 0; i < 3; i++) {
      const r = await get(`${ts.url}/v2/${repo}/blobs/${big.digest}`, {
        leaveAfter: 2 * MiB,
        pauseAfterFirstMs: i === 1 ? 100 : 0,
      });
      assert.ok(r.body.length >= 2 * MiB);
    }
    let open = fdsOn(file);
    for (let i = 0; i < 50 && open > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      open = fdsOn(file);
    }
    assert.equal(open, 0, 'every blob fd was closed');
    const r = await get(`${ts.url}/v2/${repo}/blobs/${blobs[3]!.digest}`);
    assert.equal(sha(r.body), sha(blobs[3]!.bytes));
  });

  test('24 clients at once, fast, slow and leaving, on shared connections: every finished body is exact', () =>
    mixedLoad(ts, repo, blobs.slice(1)));

  test('pipelined requests: the queued response streams (no socket yet) and both bodies are exact', async () => {
    const a = blobs[4]!; // 40 MiB: still being sent when the second request is parsed
    const b = blobs[3]!;
    const u = new URL(ts.url);
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const sock = connect(Number(u.port), u.hostname, () => {
        sock.write(
          `GET /v2/${repo}/blobs/${a.digest} HTTP/1.1\r\nHost: x\r\n\r\n` +
            `GET /v2/${repo}/blobs/${b.digest} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
      });
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('end', () => resolve(Buffer.concat(chunks)));
      sock.on('error', reject);
    });
    const bodies: Buffer[] = [];
    let at = 0;
    for (let i = 0; i < 2; i++) {
      const headEnd = raw.indexOf('\r\n\r\n', at);
      const head = raw.subarray(at, headEnd).toString('latin1');
      assert.match(head, /^HTTP\/1\.1 200 /);
      const len = Number(/content-length: (\d+)/i.exec(head)![1]);
      bodies.push(raw.subarray(headEnd + 4, headEnd + 4 + len));
      at = headEnd + 4 + len;
    }
    assert.equal(at, raw.length, 'nothing after the two responses');
    assert.equal(sha(bodies[0]!), sha(a.bytes));
    assert.equal(sha(bodies[1]!), sha(b.bytes));
  });
});

/** Puts a helper in place that tells `seen` whether each call asked for sendfile (true) or a copy (false). */
function recordModes(real: SendfileHelper, seen: (zeroCopy: boolean) => void): void {
  setSendfileHelper({
    ...real,
    sendfile: (o, f, off, len, z) => (seen(z === 1), real.sendfile(o, f, off, len, z)),
    sendfileAsync: (o, f, off, len, ms, cb, z) => (seen(z === true), real.sendfileAsync!(o, f, off, len, ms, cb, z)),
  });
}

describe('http.zeroCopy: sendfile(2) itself, or a copy through a small buffer (the default)', () => {
  const copying = useTestServer();
  const zero = useTestServer({ http: { zeroCopy: true } });
  const repo = uniqueRepo('zerocopy');
  const big = { bytes: randomBlob(24 * MiB + 11), digest: '' };

  for (const [name, ts, expected] of [
    ['default', copying, false],
    ['zeroCopy', zero, true],
  ] as const) {
    test(`${name}: the helper is asked for ${expected ? 'sendfile' : 'a copy'}, and every byte arrives`, async () => {
      const real = sendfileHelper()!;
      const seen = new Set<boolean>();
      recordModes(real, (zeroCopy) => seen.add(zeroCopy));
      try {
        const digest = await pushBlob(ts, repo, big.bytes);
        const whole = await get(`${ts.url}/v2/${repo}/blobs/${digest}`);
        assert.equal(sha(whole.body), sha(big.bytes));
        const slow = await get(`${ts.url}/v2/${repo}/blobs/${digest}`, { range: 'bytes=5-20000000', stutterMs: 20 });
        assert.ok(slow.body.equals(big.bytes.subarray(5, 20000001)));
      } finally {
        setSendfileHelper(real);
      }
      assert.deepEqual([...seen], [expected]);
    });
  }

  test('by default, bodies under 16 MiB, and big ones beyond two at once, go by sendfile', async () => {
    const real = sendfileHelper()!;
    const modes: boolean[] = [];
    recordModes(real, (zeroCopy) => modes.push(zeroCopy));
    try {
      const small = randomBlob(MiB + 3);
      const d = await pushBlob(copying, repo, small);
      assert.equal(sha((await get(`${copying.url}/v2/${repo}/blobs/${d}`)).body), sha(small));
      assert.ok(modes.length > 0 && modes.every(Boolean), 'a 1 MiB body: sendfile only');
      modes.length = 0;
      const digest = await pushBlob(copying, repo, big.bytes);
      const url = `${copying.url}/v2/${repo}/blobs/${digest}`;
      const all = await Promise.all([1, 2, 3, 4].map(() => get(url, { stutterMs: 20 })));
      for (const r of all) assert.equal(sha(r.body), sha(big.bytes));
      assert.ok(modes.includes(true) && modes.includes(false), 'four slow pulls at once: some calls copy, some not');
    } finally {
      setSendfileHelper(real);
    }
  });
});

describe('http.sendfile: false', () => {
  const ts = useTestServer({ http: { sendfile: false } });
  const repo = uniqueRepo('nosendfile');
  const blobs = [1, 4097, MiB + 17, 3 * MiB + 5].map((size) => ({ size, bytes: randomBlob(size), digest: '' }));

  test('pipes the same bytes through streams', async () => {
    for (const b of blobs) b.digest = await pushBlob(ts, repo, b.bytes);
    const big = blobs[3]!;
    const before = sendfileCounters.responses;
    const whole = await get(`${ts.url}/v2/${repo}/blobs/${big.digest}`);
    assert.equal(sha(whole.body), sha(big.bytes));
    const part = await get(`${ts.url}/v2/${repo}/blobs/${big.digest}`, { range: 'bytes=100-199' });
    assert.ok(part.body.equals(big.bytes.subarray(100, 200)));
    assert.equal(sendfileCounters.responses, before, 'no response went through sendfile');
  });

  test('the same 24-client load through streams', () => mixedLoad(ts, repo, blobs));
});

/** One HTTPS request to a server with a self-signed certificate. */
function https(base: string, method: string, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {};
    const req = httpsRequest(new URL(path, base), { method, headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('TLS', () => {
  test('blob bodies stay on streams (no sendfile, no worker job) and arrive byte-exact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kura-sendfile-tls-'));
    const ts = await startTestServer({ tls: selfSignedCert(dir, 'kura-sendfile') });
    try {
      assert.match(ts.url, /^https:/);
      const bytes = randomBlob(20 * MiB + 5);
      const digest = `sha256:${sha(bytes)}`;
      const put = await https(ts.url, 'POST', `/v2/tls/app/blobs/uploads/?digest=${digest}`, bytes);
      assert.equal(put.status, 201);
      const before = { ...sendfileCounters };
      const got = await https(ts.url, 'GET', `/v2/tls/app/blobs/${digest}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(bytes));
      assert.equal(sendfileCounters.responses, before.responses, 'no response went through sendfile');
      assert.equal(sendfileCounters.workerJobs, before.workerJobs, 'no worker job ran');
    } finally {
      await ts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
