/** A tar archive indexed once and read in place by byte range (decompressed to a temp file when compressed). */
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { posix, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompress, sniffCompression, type Compression } from '../../oci/compression.js';
import { removeTemp, trackTemp } from '../../oci/temps.js';
import { lazy } from '../../oci/lazy.js';

const require = createRequire(import.meta.url);
const tarStream = lazy(() => require('tar-stream') as typeof import('tar-stream'));

/** One entry of a tar archive: where its data lies in the (uncompressed) file. */
export interface TarEntry {
  name: string;
  type: string;
  size: number;
  /** Byte offset of the entry's data. */
  offset: number;
  /** For symlink and hardlink entries: the normalised path of the target, relative to the archive root. */
  target?: string;
}

/** Thrown for archives that are unsafe or not what they claim to be. */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

/** The error for a tar that holds no image (a root filesystem, say), naming what makes one of it. */
export function notAnImageArchive(file: string): ArchiveError {
  return new ArchiveError(
    `${file} is not an image archive (no manifest.json or index.json); if it is a root filesystem, make an image of ` +
      `it with kura import ${file} NAME[:TAG]`,
  );
}

/** `./a//b/` → `a/b`; undefined when the name leaves the archive root. */
export function archivePath(name: string): string | undefined {
  const n = posix
    .normalize(name.replace(/^\/+/, ''))
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
  if (n === '..' || n.startsWith('../')) return undefined;
  return n === '.' ? '' : n;
}

/**
 * A tar archive file opened for random access: scanned once, entries found by name (symlinks and
 * hardlinks followed), each read as a byte range of the file. A gzip or zstd archive is first
 * decompressed once into a private temporary file, removed by `close()` or at process exit.
 */
export class TarIndex {
  private constructor(
    readonly file: string,
    /** The uncompressed tar read from: `file` itself or a temporary copy. */
    private readonly path: string,
    readonly compression: Compression,
    private readonly entries: Map<string, TarEntry>,
  ) {}

  /** Opens and scans an archive; refuses entries and links that point outside it. */
  static async open(file: string): Promise<TarIndex> {
    const fh = await openFile(file, 'r').catch((e: NodeJS.ErrnoException) => {
      throw new ArchiveError(
        e.code === 'ENOENT' ? `${file} does not exist: check the path` : `cannot read ${file}: ${e.message}`,
      );
    });
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0).finally(() => fh.close());
    const compression = sniffCompression(head);
    let path = file;
    if (compression !== 'none') {
      path = join(tmpdir(), `kura-archive-${randomUUID()}.tar`);
      trackTemp(path);
      try {
        const { stream } = await decompress(createReadStream(file));
        await pipeline(stream, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
      } catch (e) {
        await removeTemp(path);
        throw new ArchiveError(`${file} is ${compression}-compressed but does not decompress: ${(e as Error).message}`);
      }
    }
    try {
      return new TarIndex(file, path, compression, await scan(file, path));
    } catch (e) {
      if (path !== file) await removeTemp(path);
      throw e;
    }
  }

  /** Names of regular-file and link entries, in archive order. */
  names(): string[] {
    return [...this.entries.values()].filter((e) => e.type !== 'directory').map((e) => e.name);
  }

  /** The regular-file entry `name` stands for, links followed; undefined when absent. */
  find(name: string): TarEntry | undefined {
    let n = archivePath(name);
    if (n === undefined) throw new ArchiveError(`"${name}" points outside the archive ${this.file}: refusing it`);
    for (let hops = 0; hops < 32; hops++) {
      const e = this.entries.get(n);
      if (!e) return undefined;
      if (e.target === undefined) return e.type === 'file' || e.type === 'contiguous-file' ? e : undefined;
      n = e.target;
    }
    throw new ArchiveError(`"${name}" in ${this.file} is a loop of links`);
  }

  /** The entry for `name`, or an error that names the archive and the missing path. */
  get(name: string): TarEntry {
    const e = this.find(name);
    if (!e)
      throw new ArchiveError(
        `${this.file} has no file "${name}": the archive is incomplete or not of the expected kind`,
      );
    return e;
  }

  /** Streams an entry's data straight from the file. */
  open(name: string): Readable {
    const e = this.get(name);
    return createReadStream(
      this.path,
      e.size === 0 ? { start: 1, end: 0 } : { start: e.offset, end: e.offset + e.size - 1 },
    );
  }

  /** Reads a small entry (a manifest, a config, manifest.json) whole. */
  async read(name: string, limit = 4 << 20): Promise<Buffer> {
    const e = this.get(name);
    if (e.size > limit)
      throw new ArchiveError(
        `"${name}" in ${this.file} is ${e.size} bytes, more than the ${limit} such a file may have`,
      );
    const chunks: Buffer[] = [];
    for await (const c of this.open(name)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** Removes the temporary decompressed copy, if any. */
  async close(): Promise<void> {
    if (this.path !== this.file) await removeTemp(this.path);
  }
}

/** Scans the tar once, recording each entry's data offset; links are resolved to root-relative targets. */
async function scan(file: string, path: string): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const ex = tarStream().extract();
  const reading = pipeline(createReadStream(path), ex as unknown as NodeJS.WritableStream);
  // An unsafe entry refuses the archive, once it is known to be an image archive at all.
  let unsafe: ArchiveError | undefined;
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const name = archivePath(h.name);
      if (name === undefined) {
        unsafe ??= new ArchiveError(`${file} has an entry "${h.name}" outside the archive root: refusing to read it`);
        entry.resume();
        continue;
      }
      const e: TarEntry = {
        name,
        type: h.type,
        size: h.type === 'file' || h.type === 'contiguous-file' ? h.size : 0,
        offset: entry.offset + 512,
      };
      if (h.type === 'symlink' || h.type === 'link') {
        // A symlink is relative to its own directory; a hardlink names a path from the archive root.
        const rel = h.type === 'symlink' ? posix.join(posix.dirname(name), h.linkname) : h.linkname;
        const target = h.linkname.startsWith('/') && h.type === 'symlink' ? undefined : archivePath(rel);
        if (target === undefined) {
          unsafe ??= new ArchiveError(
            `${file} has a link "${h.name}" → "${h.linkname}" pointing outside the archive: refusing to read it`,
          );
          entry.resume();
          continue;
        }
        e.target = target;
      }
      entries.set(name, e);
      entry.resume();
    }
    await reading;
  } catch (e) {
    ex.destroy();
    await reading.catch(() => undefined);
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`${file} is not a readable tar archive: ${(e as Error).message}`);
  }
  if (entries.size === 0 && !unsafe) throw new ArchiveError(`${file} is empty or not a tar archive`);
  if (unsafe) throw entries.has('manifest.json') || entries.has('index.json') ? unsafe : notAnImageArchive(file);
  return entries;
}
