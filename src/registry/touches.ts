/**
 * Blob HEAD/GET touches written to a metadata store that several processes share, as leases (`gc.touch`),
 * batched: at most one write per interval, whatever the number of HEADs. A collector in another process then
 * sees the touch within one interval (README.md in this folder, "Scope").
 */
import type { GcStore } from '../metadata/types.js';
import type { Digest } from '../oci/digest.js';

/** How often pending touches are written (ms). */
export const TOUCH_FLUSH_MS = 1000;

export class SharedTouches {
  private pending = new Set<Digest>();
  private latest = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly gc: Required<Pick<GcStore, 'touch'>>,
    private readonly graceMs: number,
    private readonly intervalMs = TOUCH_FLUSH_MS,
  ) {}

  /** A blob read at `at` (ms): its lease is written with the next batch. */
  note(digest: Digest, at: number): void {
    this.pending.add(digest);
    this.latest = Math.max(this.latest, at);
    this.timer ??= setTimeout(() => void this.flush().catch(() => {}), this.intervalMs).unref();
  }

  /** Writes what is pending now (and waits for a write in progress). A failed batch is kept for the next one. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const digests = [...this.pending];
    const until = this.latest + this.graceMs;
    this.pending = new Set();
    const write = async () => {
      if (digests.length === 0) return;
      try {
        await this.gc.touch(digests, until);
      } catch (e) {
        for (const d of digests) this.note(d, until - this.graceMs);
        throw e;
      }
    };
    this.running = this.running.catch(() => {}).then(write);
    return this.running;
  }

  /** Writes what is pending and stops (the store is closing). */
  async close(): Promise<void> {
    await this.flush().catch(() => {});
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
