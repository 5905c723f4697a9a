/**
 * The digest of a blob fetched from upstream, computed as its chunks arrive: on libuv's thread pool when the native
 * helper offers it (one job at a time per blob, each over every chunk that arrived meanwhile), else on the event
 * loop. Hashing was a sixth of the caching server's event-loop time on a cold pull; on the thread pool it runs
 * beside the loop's socket reads (docs/benchmarks.md, "Pull-through cache").
 */
import { finishDigest, newHasher, type Digest, type DigestAlgorithm } from '../oci/digest.js';

/** The native helper's hashing (native/relay.c), as the server hands it to the proxy. */
export interface NativeHashing {
  hashNew(algorithm: string): object;
  hashAsync(context: object, buffers: Buffer[], callback: (result: number) => void): void;
  hashDigest(context: object): Buffer;
  /** Most buffers one job takes. */
  readonly MAX_IOV: number;
}

/**
 * Chunks gathered before a job starts: each job wakes a pool thread (a futex call), which per 64 KiB chunk cost as much
 * event-loop time as the hashing saved; the digest is needed only at the end.
 */
const GATHER = 8;

export class ChunkHasher {
  private readonly context: object | undefined;
  private readonly sync: ReturnType<typeof newHasher> | undefined;
  private pending: Buffer[] = [];
  private running = false;
  private failed = false;
  private ended: { resolve: (d: Digest) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly algorithm: DigestAlgorithm,
    private readonly native?: NativeHashing,
  ) {
    if (native) this.context = native.hashNew(algorithm);
    else this.sync = newHasher(algorithm);
  }

  update(chunk: Buffer): void {
    if (this.sync) this.sync.update(chunk);
    else {
      this.pending.push(chunk);
      if (!this.running && this.pending.length >= GATHER) this.submit();
    }
  }

  /** The digest of every chunk given, once they are all hashed. No update after it. */
  digest(): Promise<Digest> {
    if (this.sync) return Promise.resolve(finishDigest(this.algorithm, this.sync));
    return new Promise((resolve, reject) => {
      this.ended = { resolve, reject };
      if (!this.running && this.pending.length) this.submit();
      else this.settle();
    });
  }

  private submit(): void {
    const batch = this.pending.splice(0, this.native!.MAX_IOV);
    this.running = true;
    this.native!.hashAsync(this.context!, batch, (result) => {
      this.running = false;
      if (result < 0) this.failed = true;
      if (!this.failed && this.pending.length >= (this.ended ? 1 : GATHER)) this.submit();
      else this.settle();
    });
  }

  private settle(): void {
    if (!this.ended || this.running || (this.pending.length && !this.failed)) return;
    if (this.failed) this.ended.reject(new Error('the native digest failed'));
    else this.ended.resolve(`${this.algorithm}:${this.native!.hashDigest(this.context!).toString('hex')}` as Digest);
  }
}
