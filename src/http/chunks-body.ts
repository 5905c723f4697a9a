/**
 * The body of a blob the pull-through cache is fetching: its chunks, as they arrive and verify, written to the
 * client's socket by the native helper on libuv's thread pool (writev(2) of every chunk ready, native/relay.c)
 * instead of through Node's stream and socket code on the event loop, which was about a fifth of the caching
 * server's event-loop time on a cold pull (docs/benchmarks.md, "Pull-through cache"). When the socket is full, the
 * rest of the batch goes through Node's write, which waits for room without holding a thread. Plain HTTP only, like
 * sendfile; elsewhere the stream is piped as it is.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import {
  canSendfile,
  CLIENT_GONE,
  ClientGone,
  flushed,
  HelperBody,
  relayHelper,
  write,
  type RelayHelper,
} from './sendfile.js';

/** A blob stream that also hands out its chunks in batches (the proxy's tap reader): see src/proxy/tap.ts. */
export type ChunkSource = Readable & { nextBatch(max: number, min?: number): Promise<Buffer[] | null> };

/**
 * Chunks (64 KiB each from an upstream socket) gathered before a job: each job wakes a pool thread, which per chunk
 * cost as much event-loop time as the write saved. A quarter of a MiB is a few hundred microseconds of a pull.
 */
const GATHER = 4;

/** What went which way since start: for tests. */
export const chunksCounters = { responses: 0, jobs: 0, jobBytes: 0, nodeWrites: 0 };

export function isChunkSource(s: Readable): s is ChunkSource {
  return typeof (s as Partial<ChunkSource>).nextBatch === 'function';
}

/** Whether a ChunksBody can be written to this socket: the helper has its relay part, the socket is plain TCP. */
export function canWriteChunks(socket: Socket | null): boolean {
  return relayHelper() !== null && canSendfile(socket);
}

export class ChunksBody extends HelperBody {
  constructor(protected override readonly source: ChunkSource) {
    super(source);
  }

  protected async send(res: ServerResponse): Promise<void> {
    const h = relayHelper()!;
    chunksCounters.responses++;
    res.flushHeaders();
    await flushed(res);
    const next = () => this.source.nextBatch(h.MAX_IOV, GATHER);
    for (let batch = await next(); batch; batch = await next()) {
      const n = await writev(h, this.liveFd(res), batch);
      chunksCounters.jobs++;
      chunksCounters.jobBytes += n;
      const rest = skip(batch, n);
      // The socket is full: Node's write waits for room (and the next batch goes by the helper again).
      for (let i = 0; i < rest.length; i++) {
        chunksCounters.nodeWrites++;
        if (i < rest.length - 1) res.write(rest[i]);
        else await write(res, rest[i]!);
      }
    }
  }
}

/** Bytes written by one job, or the error it stands for. */
function writev(h: RelayHelper, fd: number, buffers: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (r: number) => {
      if (r >= 0) resolve(r);
      else reject(CLIENT_GONE.has(-r) ? new ClientGone() : new Error(`writev failed: errno ${-r}`));
    };
    const started = h.writevAsync(fd, buffers, done);
    if (started < 0) done(started);
  });
}

/** The buffers after their first `n` bytes. */
function skip(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i]!.length) n -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return [buffers[i]!.subarray(n), ...buffers.slice(i + 1)];
}
