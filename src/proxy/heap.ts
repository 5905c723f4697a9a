/**
 * V8's heap sizing for a `kura serve` that caches upstreams: room for the blob bytes a cold pull streams through
 * JavaScript buffers, so that they do not set off a full (mark-compact) collection every few MiB.
 *
 * Why: every 64 KiB read from an upstream socket is a new ArrayBuffer, counted by V8 as memory of the old
 * generation until a collection frees it. With V8's own limit (about 2.5 times the live heap, ~40 MiB for the
 * ~16 MiB a server holds) a 32 MiB cold pull set off 3 to 4 mark-compacts (`--trace-gc`), whose marking took
 * a third of the caching process's CPU time on 2 busy CPUs (perf: the V8 helper threads' concurrent marking
 * plus the main thread's pauses). A growth factor of 4 (the most V8 itself grows a large heap) leaves room for
 * ~50 MiB of buffers between collections: the same pulls then ran with no mark-compact, and the cache's CPU time
 * per cold pull fell by about a third (docs/benchmarks.md, "Pull-through cache"). The price is memory: the
 * old generation may grow to four times its live size before it is collected (for a server's ~16 MiB live
 * heap, ~64 MiB), also where V8 would otherwise grow it less (its memory reducer, a memory-pressure notice).
 */
import { setFlagsFromString } from 'node:v8';

/** V8's old generation grows to (1 + PERCENT/100) times its live size between mark-compacts. */
export const PROXY_HEAP_GROWING_PERCENT = 300;

/**
 * Sets V8's heap growing factor for this process (read by V8 at each collection, so it applies from the next
 * one on). Called by `kura serve` when `proxy.upstreams` is set; a program embedding the server keeps its own.
 */
export function roomForStreamedBlobs(): void {
  setFlagsFromString(`--heap-growing-percent=${PROXY_HEAP_GROWING_PERCENT}`);
}
