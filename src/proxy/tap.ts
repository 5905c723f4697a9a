/**
 * One upstream blob stream shared live: every reader (the client that started the fetch and any that ask for the
 * same blob meanwhile) gets the bytes from the first as they arrive, and the last chunk and its end only once the
 * bytes verified against the digest (the fetch hashes them; the store commits its copy of the same chunks only on
 * that digest);
 * a failure destroys every reader.
 */
import { Readable } from 'node:stream';

/** Over this many bytes, a fetch takes no new readers (they wait for the stored blob) and drops what all read. */
export const REPLAY_MAX = 64 * 1024 * 1024;

/**
 * A reader that can also be read in batches: once `min` chunks are ready (or all that remain), every chunk ready up to
 * `max`; null at the end (src/http/chunks-body.ts).
 */
export type TapReader = Readable & { nextBatch(max: number, min?: number): Promise<Buffer[] | null> };

export class BlobTap {
  /** Chunks from `base` on (those before were read by every reader once the tap stopped taking new ones). */
  private chunks: Buffer[] = [];
  private base = 0;
  private received = 0;
  private state: 'running' | 'done' | 'failed' = 'running';
  private error: Error | undefined;
  /** Each open reader's next chunk index, and what wakes it when more arrives. */
  private readonly readers = new Map<object, { next: number; wake?: () => void }>();

  constructor(
    readonly size: number | undefined,
    private readonly replayMax = REPLAY_MAX,
  ) {}

  /** Whether a new reader can still get the blob from its first byte. */
  get joinable(): boolean {
    return this.state === 'running' && this.received <= this.replayMax;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    this.wakeAll();
  }

  /** The bytes verified: readers end after the last chunk (a no-op once done or failed). */
  finish(): void {
    if (this.state !== 'running') return;
    this.state = 'done';
    this.wakeAll();
  }

  /** The fetch or the store failed: every reader is destroyed with `e`, nothing more is kept. */
  fail(e: Error): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    this.error = e;
    this.chunks = [];
    this.wakeAll();
  }

  /**
   * A stream of the whole blob; only while `joinable`. Read it as a stream or by `nextBatch` (one or the other), and
   * destroy it when done.
   */
  reader(onClose?: () => void): TapReader {
    const key = {};
    const me: { next: number; wake?: () => void } = { next: this.base };
    this.readers.set(key, me);
    const r: Readable = new Readable({
      highWaterMark: 1 << 20,
      read: () => this.feed(r, me),
      destroy: (err, cb) => {
        this.readers.delete(key);
        this.release();
        onClose?.();
        cb(err);
      },
    });
    return Object.assign(r, { nextBatch: (max: number, min = 1) => this.batch(me, max, min) });
  }

  /** The chunks `me` may read now (at most `max`), once `min` are ready or the rest is; null at the end. */
  private batch(me: { next: number; wake?: () => void }, max: number, min: number): Promise<Buffer[] | null> {
    return new Promise((resolve, reject) => {
      const poll = () => {
        me.wake = undefined;
        if (this.state === 'failed') return reject(this.error);
        const ready = this.ready();
        if (this.state === 'running' && ready - (me.next - this.base) < min) {
          me.wake = poll;
          return;
        }
        const out: Buffer[] = [];
        while (me.next - this.base < ready && out.length < max) out.push(this.chunks[me.next++ - this.base]!);
        this.release();
        if (out.length) resolve(out);
        else if (this.state === 'done') resolve(null);
        else me.wake = poll;
      };
      poll();
    });
  }

  private feed(r: Readable, me: { next: number; wake?: () => void }): void {
    me.wake = undefined;
    if (this.state === 'failed') {
      r.destroy(this.error);
      return;
    }
    const ready = this.ready();
    while (me.next - this.base < ready) {
      const chunk = this.chunks[me.next - this.base]!;
      me.next++;
      if (!r.push(chunk)) {
        this.release();
        return;
      }
    }
    this.release();
    if (this.state === 'done') r.push(null);
    else me.wake = () => this.feed(r, me);
  }

  /** Chunks readable now: the last is held back until the bytes verified, so no client gets a whole unverified blob. */
  private ready(): number {
    return this.state === 'done' ? this.chunks.length : this.chunks.length - 1;
  }

  private wakeAll(): void {
    for (const me of this.readers.values()) {
      const wake = me.wake;
      me.wake = undefined;
      wake?.();
    }
  }

  /** Once no reader can join, chunks every reader has passed are dropped. */
  private release(): void {
    if (this.joinable) return;
    let low = this.base + this.chunks.length;
    for (const me of this.readers.values()) low = Math.min(low, me.next);
    if (low > this.base) {
      this.chunks.splice(0, low - this.base);
      this.base = low;
    }
  }
}
