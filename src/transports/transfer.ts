/** One blob's transfer as TransferEvents: start, progress while a verifying stream passes, an outcome. */
import type { Transform } from 'node:stream';
import type { Descriptor, TransferEvent } from '../oci/artifact.js';
import { verifying } from '../oci/verify.js';

/** Progress is reported at most once per MiB. */
const PROGRESS_STEP = 1 << 20;

/** The events of moving `d`, sent to `onProgress` (if any). */
export class Transfer {
  private readonly ev: Pick<TransferEvent, 'digest' | 'mediaType' | 'total'>;

  constructor(
    readonly d: Descriptor,
    private readonly onProgress?: (e: TransferEvent) => void,
  ) {
    this.ev = { digest: d.digest, mediaType: d.mediaType, total: d.size };
  }

  start(): void {
    this.onProgress?.({ ...this.ev, complete: 0, status: 'start' });
  }

  /** A pass-through that checks the bytes against `d` (digest and size) and reports progress. */
  verifying(): Transform {
    let last = 0;
    return verifying(this.d, (n) => {
      if (n - last >= PROGRESS_STEP) {
        last = n;
        this.onProgress?.({ ...this.ev, complete: n, status: 'progress' });
      }
    });
  }

  end(status: 'done' | 'skipped' | 'mounted'): void {
    this.onProgress?.({ ...this.ev, complete: this.d.size, status });
  }
}
