/**
 * A zip reader for OSV exports: the central directory (zip64 too: osv.dev's zips hold hundreds of thousands of
 * entries) read once, then each entry read at its offset and inflated by Node's zlib. The zip is not held in memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';

interface Entry {
  name: string;
  method: number;
  flags: number;
  compressed: number;
  size: number;
  offset: number;
}

/** Little-endian 64-bit field as a number (zip64 offsets and counts stay far below 2^53). */
const u64 = (b: Buffer, at: number) => Number(b.readBigUInt64LE(at));

/** Bytes read from the file at a time for the entries. */
const WINDOW = 4 << 20;

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.allocUnsafe(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  if (bytesRead !== len) throw new Error('the file ends early');
  return b;
}

/** Where the central directory is and how many entries it holds (from the end record, or zip64's). */
async function directory(fh: FileHandle, fileSize: number): Promise<{ offset: number; size: number; count: number }> {
  const tailLen = Math.min(fileSize, 22 + 0xffff);
  const tail = await readAt(fh, fileSize - tailLen, tailLen);
  let at = tail.length - 22;
  while (at >= 0 && tail.readUInt32LE(at) !== 0x06054b50) at--;
  if (at < 0) throw new Error('no end of central directory record');
  let count = tail.readUInt16LE(at + 10);
  let size = tail.readUInt32LE(at + 12);
  let offset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const loc = at - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw new Error('no zip64 end of central directory locator');
    const end = await readAt(fh, u64(tail, loc + 8), 56);
    if (end.readUInt32LE(0) !== 0x06064b50) throw new Error('no zip64 end of central directory record');
    count = u64(end, 32);
    size = u64(end, 40);
    offset = u64(end, 48);
  }
  if (offset + size > fileSize) throw new Error('the central directory is outside the file');
  return { offset, size, count };
}

function entries(cd: Buffer, count: number): Entry[] {
  const out: Entry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`central directory entry ${i} is bad`);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const e: Entry = {
      name: cd.toString('utf8', p + 46, p + 46 + nameLen),
      flags: cd.readUInt16LE(p + 8),
      method: cd.readUInt16LE(p + 10),
      compressed: cd.readUInt32LE(p + 20),
      size: cd.readUInt32LE(p + 24),
      offset: cd.readUInt32LE(p + 42),
    };
    // Zip64 extended information: the fields that overflowed, in this order.
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = cd.readUInt16LE(x);
      const len = cd.readUInt16LE(x + 2);
      if (id === 1) {
        let f = x + 4;
        for (const k of ['size', 'compressed', 'offset'] as const)
          if (e[k] === 0xffffffff && f + 8 <= x + 4 + len) ((e[k] = u64(cd, f)), (f += 8));
      }
      x += 4 + len;
    }
    out.push(e);
    p += 46 + nameLen + extraLen + cd.readUInt16LE(p + 32);
  }
  return out;
}

/** The entries of a zip whose names pass `want`, in directory order, each inflated; errors name the entry. */
export async function* zipEntries(file: string, want: (name: string) => boolean): AsyncGenerator<[string, Buffer]> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const dir = await directory(fh, fileSize);
    const list = entries(await readAt(fh, dir.offset, dir.size), dir.count).filter((e) => want(e.name));
    // Entries lie one after another: read the file in windows of a few MiB rather than twice per entry.
    let win: Buffer = Buffer.alloc(0);
    let winPos = 0;
    const bytes = async (pos: number, len: number): Promise<Buffer> => {
      if (pos + len > fileSize) throw new Error('the file ends early');
      if (pos < winPos || pos + len > winPos + win.length) {
        win = await readAt(fh, pos, Math.min(Math.max(len, WINDOW), fileSize - pos));
        winPos = pos;
      }
      return win.subarray(pos - winPos, pos - winPos + len);
    };
    for (const e of list) {
      if (e.flags & 1) throw new Error(`${e.name} is encrypted`);
      if (e.method !== 0 && e.method !== 8) throw new Error(`${e.name} uses compression method ${e.method}`);
      const head = await bytes(e.offset, 30);
      if (head.readUInt32LE(0) !== 0x04034b50) throw new Error(`${e.name}: no local header`);
      const start = e.offset + 30 + head.readUInt16LE(26) + head.readUInt16LE(28);
      const raw = await bytes(start, e.compressed);
      let data: Buffer;
      try {
        data = e.method === 0 ? raw : inflateRawSync(raw);
      } catch (err) {
        throw new Error(`${e.name}: ${(err as Error).message}`);
      }
      if (data.length !== e.size) throw new Error(`${e.name}: ${data.length} bytes, the directory says ${e.size}`);
      yield [e.name, data];
    }
  } finally {
    await fh.close();
  }
}
