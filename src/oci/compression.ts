import { createRequire } from 'node:module';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { lazy } from './lazy.js';

const require = createRequire(import.meta.url);
const zlib = lazy(() => require('node:zlib') as typeof import('node:zlib'));
const fzstd = lazy(() => require('fzstd') as typeof import('fzstd'));
const childProcess = lazy(() => require('node:child_process') as typeof import('node:child_process'));

export type Compression = 'none' | 'gzip' | 'zstd';

/** What the first bytes say: gzip `1f 8b`, zstd `28 b5 2f fd`, else none. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** The compression a layer media type declares (Docker's gzip layer included), or undefined if it says nothing. */
export function mediaTypeCompression(mediaType: string): Compression | undefined {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  if (mediaType.endsWith('.tar')) return 'none';
  return undefined;
}

/** A streaming zstd decoder (pure JS, so no native build and no download on install). */
export function createZstdDecompress(): Transform {
  let out: Transform;
  const z = new (fzstd().Decompress)((chunk) => {
    out.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });
  out = new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      try {
        z.push(chunk);
        cb();
      } catch (e) {
        cb(new Error(`zstd data is corrupt: ${(e as Error).message}`));
      }
    },
    flush(cb: TransformCallback) {
      try {
        z.push(new Uint8Array(0), true);
        cb();
      } catch (e) {
        cb(new Error(`zstd data is corrupt or truncated: ${(e as Error).message}`));
      }
    },
  });
  return out;
}

/**
 * Peeks at the first bytes of `input` and returns the uncompressed stream (gzip, zstd or plain),
 * with the detected compression. Nothing is buffered beyond the peeked chunk.
 */
export async function decompress(input: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const it = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  const pending: Buffer[] = [];
  while (head.length < 4) {
    const r = await it.next();
    if (r.done) break;
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    pending.push(b);
    head = Buffer.concat([head, b]);
  }
  const compression = sniffCompression(head);
  async function* rest(): AsyncGenerator<Buffer> {
    yield* pending;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
  }
  const raw = Readable.from(rest(), { objectMode: false });
  if (compression === 'none') return { stream: raw, compression };
  const dec = compression === 'gzip' ? zlib().createGunzip() : createZstdDecompress();
  raw.on('error', (e) => dec.destroy(e));
  return { stream: raw.pipe(dec), compression };
}

/**
 * Compresses a stream. gzip uses zlib (level 1 by default: recompressing is the costliest thing a
 * copy can do); zstd runs the `zstd` program, which Debian packages as `zstd`.
 */
export function compress(input: Readable, compression: Compression, level?: number): Readable {
  if (compression === 'none') return input.pipe(new PassThrough());
  if (compression === 'gzip') {
    const gz = zlib().createGzip({ level: level ?? 1, strategy: zlib().constants.Z_DEFAULT_STRATEGY });
    input.on('error', (e) => gz.destroy(e));
    return input.pipe(gz);
  }
  const out = new PassThrough();
  const child = childProcess().spawn('zstd', ['-q', '-c', '-T0', `-${level ?? 3}`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 1000) stderr += d.toString();
  });
  child.on('error', (e: NodeJS.ErrnoException) =>
    out.destroy(
      new Error(
        e.code === 'ENOENT' ? 'writing zstd needs the zstd program: apt-get install zstd' : `zstd failed: ${e.message}`,
      ),
    ),
  );
  child.on('close', (code) => {
    if (code !== 0 && !out.destroyed) out.destroy(new Error(`zstd exited with ${code}: ${stderr.trim()}`));
  });
  input.on('error', (e) => {
    child.kill();
    out.destroy(e);
  });
  child.stdin.on('error', () => {});
  input.pipe(child.stdin);
  child.stdout.pipe(out);
  return out;
}
