/*
 * Blob bodies sent with sendfile(2). A stream read() + socket write() copies every byte from the page
 * cache into a JS buffer and again into the socket; sendfile hands the page-cache bytes to the socket
 * directly. Measured on a 1 GiB pull: server CPU ~0.67 → ~0.38 s/GiB; 32 clients GETting a 1 MiB
 * blob: ~830 → ~2,400 req/s with less memory (docs/benchmarks.md).
 *
 * The native helper (native/sendfile.c, built by `npm install` with node-gyp) makes synchronous,
 * non-blocking calls on the event loop, like nginx's `sendfile on`, for what the socket takes at once.
 * When the socket's buffer is full (or the next page is not in the page cache), the next 8 MiB go
 * out from a libuv worker thread that sleeps in poll() until the socket has room and refills it at
 * once, as Distribution's goroutines do; the event loop stays free. At most `workers.cap` such jobs
 * run at once, each for at most 250 ms; beyond that, and right after a reader stalled for a whole
 * job, a 256 KiB piece goes through Node's own socket write, which waits for 'drain' without holding
 * a thread (an uncached one is read on the thread pool first, so the event loop never waits on the
 * disk). Plain HTTP only: TLS has to encrypt in user space.
 * Without the helper (not built, not Linux, `http.sendfile: false`) blobs are piped as streams.
 */
import { read as readCallback, readSync } from 'node:fs';
import { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { constants as os } from 'node:os';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { FileRegion } from '../registry/registry.js';

interface Helper {
  /**
   * Bytes sent (fewer than asked when the socket is full), -errno, or EOF. zeroCopy 1: sendfile(2); 0: a copy
   * through a 32 KiB buffer (native/sendfile.c says why). Helpers built before the flag existed ignore it.
   */
  sendfile(socketFd: number, fileFd: number, offset: number, length: number, zeroCopy?: number): number;
  /** False when the page at `offset` would have to come from the disk. */
  cached(fileFd: number, offset: number): boolean;
  /**
   * The same on libuv's thread pool, waiting in poll() while the socket is full, until `length` is
   * sent, the socket fails or `budgetMs` passed; calls back with the result. Returns 0 when queued,
   * -errno when it could not start. Absent from helpers built before it existed.
   */
  sendfileAsync?(
    socketFd: number,
    fileFd: number,
    offset: number,
    length: number,
    budgetMs: number,
    callback: (result: number) => void,
    zeroCopy?: boolean,
  ): number;
  readonly EOF: number;
  /** Most bytes one sendfile call sends. */
  readonly MAX_CALL: number;
}

/** The relay part (native/relay.c): hashing and socket writes on the thread pool. Absent from older helpers. */
export interface RelayHelper {
  hashNew(algorithm: string): object;
  hashAsync(context: object, buffers: Buffer[], callback: (result: number) => void): void;
  hashDigest(context: object): Buffer;
  /** Returns 0 when queued (callback(bytes written or -errno) follows), or -errno when it could not start. */
  writevAsync(socketFd: number, buffers: Buffer[], callback: (result: number) => void): number;
  /** Most buffers one job takes. */
  readonly MAX_IOV: number;
}

/** The helper's relay part, or null where the helper is not built or predates it. */
export function relayHelper(): RelayHelper | null {
  const h = sendfileHelper() as (Helper & Partial<RelayHelper>) | null;
  return h?.writevAsync && h.hashNew ? (h as RelayHelper) : null;
}

let helper: Helper | null | undefined;

/** The native helper, or null where it is not built. */
export function sendfileHelper(): Helper | null {
  if (helper === undefined) {
    try {
      helper = createRequire(import.meta.url)('../../build/Release/kura_sendfile.node') as Helper;
    } catch {
      helper = null;
    }
  }
  return helper;
}

/** For tests: put another helper in place (one that wraps the built one); undefined loads the built one again. */
export function setSendfileHelper(h: SendfileHelper | null | undefined): void {
  helper = h;
}

export type SendfileHelper = Helper;

/** The socket's fd when sendfile can write to it: a plain TCP socket still open. */
export function socketFd(socket: Socket | null): number | null {
  if (!socket || (socket as Socket & { encrypted?: boolean }).encrypted) return null;
  const fd = (socket as Socket & { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** Whether a body can be sent with sendfile on this socket. */
export function canSendfile(socket: Socket | null): boolean {
  return sendfileHelper() !== null && socketFd(socket) !== null;
}

const readAsync = promisify(readCallback);
/**
 * The piece written through Node when the socket is full. Measured on 1 GiB pulls (12 alternating
 * runs each, one client): 64 KiB 1,021 MiB/s mean, 256 KiB 1,254, 512 KiB 1,275 (6 runs), Distribution
 * 1,091. With 64 KiB the socket ran dry between refills; 256 KiB still sends ~90% of the bytes by sendfile.
 */
const WAIT_PIECE = 256 * 1024;
/** The piece read on the thread pool when the next page is not cached (the kernel reads ahead from there). */
const COLD_PIECE = 1024 * 1024;
/** What one worker job sends at most: at ~1 GiB/s a few ms, so a job's overhead is small. */
const WORKER_CHUNK = 8 * 1024 * 1024;
/**
 * How long one worker job may wait for a reader before handing its thread back; the response's idle
 * timer is reset between jobs, so this stays well under any socket timeout.
 */
const WORKER_BUDGET_MS = 250;

/**
 * Worker jobs running, and how many may run at once: they hold libuv threads (UV_THREADPOOL_SIZE,
 * 4 by default) that file reads, hashing and DNS also need, so at most half of them (none with a
 * pool of one thread). Beyond the cap, the socket-full case writes through Node.
 * Tests may lower `cap`.
 */
/**
 * Bodies being sent now. The helper copies (instead of sendfile(2)) a body of COPY_MIN_BYTES or more while at most
 * COPY_MAX_ACTIVE such bodies are in flight: then the client is the busy side, and bytes it reads warm from the
 * CPU's cache pull faster (the 1 GiB pull: 0.81-0.86x Distribution with sendfile, 1.11x copying). Smaller bodies,
 * or more at once, are where the server's CPU runs out first, and sendfile's references cost a quarter of a copy
 * (1 MiB blob GETs over 32 connections, loaded machine: 1,338-1,383 req/s with sendfile, 914-922 copying).
 */
export const bodies = { active: 0 };
export const COPY_MAX_ACTIVE = 2;
export const COPY_MIN_BYTES = 16 * 1024 * 1024;

export const workers = {
  busy: 0,
  cap: Math.max(0, Math.min(Math.floor((Number(process.env['UV_THREADPOOL_SIZE']) || 4) / 2), 64)),
};
export const CLIENT_GONE = new Set([os.errno.EPIPE, os.errno.ECONNRESET, os.errno.ENOTCONN, os.errno.EBADF]);

export class ClientGone extends Error {}

/** What went which way since start: for tests and for reading a benchmark. */
export const sendfileCounters = {
  /** Responses whose body was sent by this module. */
  responses: 0,
  /** Bytes sent by sendfile(2). */
  sendfileBytes: 0,
  /** Pieces written through Node because the socket was full. */
  waitPieces: 0,
  /** Pieces read on the thread pool because they were not in the page cache. */
  coldPieces: 0,
  /** Chunks sent by a worker thread that waited in the kernel for room, and their bytes. */
  workerJobs: 0,
  workerBytes: 0,
  /** Most worker jobs that ran at once. */
  workerPeak: 0,
  /** Times the socket was full and every worker busy (so the piece went through Node). */
  workersFull: 0,
};

/**
 * A body the native helper writes to the response's socket itself. Fastify pipes a stream payload into the
 * response; this one, piped into a ServerResponse on a plain socket, runs `send` instead of reading `source`;
 * piped anywhere else, it streams `source`. The source is destroyed when the body is done.
 */
export abstract class HelperBody extends Readable {
  private running = false;

  constructor(protected readonly source: Readable) {
    super();
  }

  /** Writes the whole body to the response's socket (its headers first); ClientGone when the client left. */
  protected abstract send(res: ServerResponse): Promise<void>;

  override _read(): void {}

  override pipe<T extends NodeJS.WritableStream>(dest: T, options?: { end?: boolean }): T {
    if (!(dest instanceof ServerResponse) || socketFd(dest.socket) === null) return this.pipeSource(dest, options);
    this.running = true;
    this.send(dest).then(
      () => this.finish(dest),
      (e: unknown) => {
        this.running = false;
        this.source.destroy();
        if (e instanceof ClientGone) {
          dest.destroy();
          this.destroy();
        } else this.destroy(e as Error);
      },
    );
    return dest;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // While send() runs it may be using the fd; it closes the source itself when it stops.
    if (!this.running) this.source.destroy();
    cb(err);
  }

  /** The socket's fd for the next write, its idle timer reset (the helper's bytes do not reset it). */
  protected liveFd(res: ServerResponse): number {
    if (this.destroyed || res.destroyed) throw new ClientGone();
    const sock = res.socket;
    const out = socketFd(sock);
    if (out === null) throw new ClientGone();
    if (sock!.timeout) sock!.setTimeout(sock!.timeout);
    return out;
  }

  /** Ends this readable (fastify waits for its 'end'), then the response. */
  private finish(res: ServerResponse): void {
    this.running = false;
    this.source.destroy();
    if (this.destroyed) return;
    this.once('end', () => res.end());
    this.push(null);
    this.resume();
  }

  /** Without a socket the helper can write to: plain streaming of the source through this readable. */
  private pipeSource<T extends NodeJS.WritableStream>(dest: T, options?: { end?: boolean }): T {
    this.source.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.source.pause();
    });
    this.source.once('end', () => this.push(null));
    this.source.once('error', (e) => this.destroy(e));
    this._read = () => void this.source.resume();
    return super.pipe(dest, options);
  }
}

/**
 * The body of a blob response read from a file: `region` of it sent with sendfile (or the helper's copy). The
 * source stream owns the fd.
 */
export class SendfileBody extends HelperBody {
  constructor(
    source: Readable,
    private readonly region: FileRegion,
    /** sendfile(2) always (`http.zeroCopy`); else the helper copies while few bodies are in flight (bodies). */
    private readonly zeroCopy = false,
  ) {
    super(source);
  }

  protected async send(res: ServerResponse): Promise<void> {
    sendfileCounters.responses++;
    const big = this.region.length >= COPY_MIN_BYTES;
    if (big) bodies.active++;
    try {
      await this.sendRegion(res);
    } finally {
      if (big) bodies.active--;
    }
  }

  private async sendRegion(res: ServerResponse): Promise<void> {
    const h = sendfileHelper()!;
    const { fd } = this.region;
    let offset = this.region.start;
    const end = this.region.start + this.region.length;
    res.flushHeaders();
    await flushed(res);
    let piece: Buffer | undefined;
    let inKernel = true; // false right after a worker came back short: the next wait goes through Node
    while (offset < end) {
      const out = this.liveFd(res);
      const asked = Math.min(end - offset, h.MAX_CALL);
      let warm = h.cached(fd, offset);
      if (warm) {
        const n = sent(h, h.sendfile(out, fd, offset, asked, this.zeroCopyNow() ? 1 : 0), end - offset);
        offset += n;
        sendfileCounters.sendfileBytes += n;
        if (n === asked) {
          // A fast reader: let other requests run between 16 MiB calls.
          if (offset < end) await new Promise((r) => setImmediate(r));
          continue;
        }
        warm = h.cached(fd, offset);
      }
      // The socket is full, or the next page is not cached: a worker thread sends the next chunk,
      // waiting in the kernel for room (and reading the disk if it must), when one is free.
      if (inKernel && h.sendfileAsync && workers.busy < workers.cap) {
        const want = Math.min(end - offset, WORKER_CHUNK);
        const r = await inWorker(h, out, fd, offset, want, this.zeroCopyNow());
        if (r !== null) {
          const n = sent(h, r, end - offset);
          offset += n;
          sendfileCounters.workerBytes += n;
          inKernel = n === want; // a reader that stalled for a whole budget: its next wait holds no thread
          continue;
        }
      } else if (inKernel && h.sendfileAsync) sendfileCounters.workersFull++;
      inKernel = true;
      // No worker: one piece goes through Node's write, which waits for room. A cached piece is read
      // right here; an uncached one on the thread pool (and the kernel reads ahead from there), so the
      // event loop never waits for the disk.
      const buf = warm
        ? (piece ??= Buffer.allocUnsafe(WAIT_PIECE))
        : Buffer.allocUnsafe(Math.min(COLD_PIECE, end - offset));
      const want = Math.min(buf.length, end - offset);
      const len = warm ? readSync(fd, buf, 0, want, offset) : (await readAsync(fd, buf, 0, want, offset)).bytesRead;
      if (len === 0) throw new Error(`blob file ended ${end - offset} bytes early`);
      if (this.destroyed || res.destroyed) throw new ClientGone();
      if (warm) sendfileCounters.waitPieces++;
      else sendfileCounters.coldPieces++;
      await write(res, buf.subarray(0, len));
      offset += len;
    }
  }

  /** sendfile(2) when configured, for a small body, or when more big bodies are in flight than the copy is for. */
  private zeroCopyNow(): boolean {
    return this.zeroCopy || this.region.length < COPY_MIN_BYTES || bodies.active > COPY_MAX_ACTIVE;
  }
}

/** Bytes a helper call sent, or the error it stands for. */
function sent(h: Helper, result: number, left: number): number {
  if (result === h.EOF) throw new Error(`blob file ended ${left} bytes early`);
  if (result >= 0) return result;
  if (CLIENT_GONE.has(-result)) throw new ClientGone();
  throw new Error(`sendfile failed: errno ${-result}`);
}

/** One chunk sent by a worker thread; null when the worker could not start (nothing was sent). */
function inWorker(
  h: Helper,
  out: number,
  fd: number,
  offset: number,
  length: number,
  zeroCopy: boolean,
): Promise<number | null> {
  return new Promise((resolve) => {
    const done = (r: number) => {
      workers.busy--;
      resolve(r);
    };
    const started = h.sendfileAsync!(out, fd, offset, length, WORKER_BUDGET_MS, done, zeroCopy);
    if (started < 0) return resolve(null);
    workers.busy++;
    sendfileCounters.workerJobs++;
    sendfileCounters.workerPeak = Math.max(sendfileCounters.workerPeak, workers.busy);
  });
}

/** Resolves once everything written to the response so far (its headers) has reached the kernel. */
export function flushed(res: ServerResponse): Promise<void> {
  const sock = res.socket;
  if (!sock || sock.writableLength === 0) return Promise.resolve();
  // Writes complete in order: an empty write's callback runs after the headers'.
  return new Promise((resolve, reject) =>
    sock.write(Buffer.alloc(0), (e) => (e ? reject(new ClientGone()) : resolve())),
  );
}

/** Writes through Node; resolves when the bytes reached the kernel, i.e. when the socket had room. */
export function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(chunk, (e) => (e ? reject(new ClientGone()) : resolve()));
  });
}
