import { humanSize } from '../../analysis/units.js';
import type { TransferEvent } from '../../oci/artifact.js';

export interface OutputOptions {
  /** NDJSON on stdout instead of human text. */
  json?: boolean;
  /** No progress at all. */
  quiet?: boolean;
}

export interface Progress {
  onProgress: (e: TransferEvent) => void;
  /** Clears the live display (TTY) before the command prints its result. */
  finish(): void;
}

const short = (d: string) => d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);
const WORD: Record<TransferEvent['status'], string> = {
  start: 'Copying',
  progress: 'Copying',
  done: 'Done',
  skipped: 'Already exists',
  mounted: 'Mounted',
};

/**
 * Plain lines (CI, a pipe): a blob's progress every 10 % or 10 s, and its outcome once, however many images share it.
 */
function plainLines(stream: NodeJS.WriteStream, now: () => number): Progress {
  const shown = new Map<string, { pct: number; at: number; final: boolean }>();
  return {
    onProgress: (e) => {
      const s = shown.get(e.digest);
      if (s?.final) return;
      if (e.status === 'start' || e.status === 'progress') {
        const pct = e.total > 0 ? Math.floor((e.complete / e.total) * 100) : 0;
        if (!s) return void shown.set(e.digest, { pct: 0, at: now(), final: false });
        if (pct < s.pct + 10 && now() - s.at < 10_000) return;
        shown.set(e.digest, { pct: pct - (pct % 10), at: now(), final: false });
        stream.write(`${short(e.digest)}: Copying ${humanSize(e.complete)}/${humanSize(e.total)} (${pct}%)\n`);
        return;
      }
      shown.set(e.digest, { pct: 100, at: now(), final: true });
      stream.write(`${short(e.digest)}: ${WORD[e.status]} ${humanSize(e.total)}\n`);
    },
    finish: () => {},
  };
}

/**
 * Progress per layer: redrawn lines on a terminal, one plain line per finished blob when stderr is
 * not a terminal or `CI` is set (and a line every 10 % or 10 s of a long blob), NDJSON events on stdout with --json.
 * Progress goes to stderr so
 * that stdout stays the command's result.
 */
export function progress(
  opts: OutputOptions = {},
  stream: NodeJS.WriteStream = process.stderr,
  now: () => number = Date.now,
): Progress {
  if (opts.quiet) return { onProgress: () => {}, finish: () => {} };
  if (opts.json) {
    return {
      onProgress: (e) => process.stdout.write(JSON.stringify({ event: 'blob', ...e }) + '\n'),
      finish: () => {},
    };
  }
  const live = stream.isTTY === true && !process.env.CI;
  if (!live) return plainLines(stream, now);
  const rows = new Map<string, TransferEvent>();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    timer = undefined;
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const e of rows.values()) {
      const pct = e.total > 0 ? Math.floor((e.complete / e.total) * 100) : 100;
      const bar =
        e.status === 'progress' || e.status === 'start'
          ? ` [${'='.repeat(Math.floor(pct / 5)).padEnd(20)}] ${humanSize(e.complete)}/${humanSize(e.total)}`
          : ` ${humanSize(e.total)}`;
      out += `\x1b[2K${short(e.digest)}: ${WORD[e.status]}${bar}\n`;
    }
    drawn = rows.size;
    stream.write(out);
  };
  return {
    onProgress: (e) => {
      rows.set(e.digest, e);
      if (e.status !== 'progress') draw();
      else timer ??= setTimeout(draw, 100);
    },
    finish: () => {
      if (timer) clearTimeout(timer);
      if (rows.size) draw();
    },
  };
}
