// The rpm databases older than SQLite, read by hand: BerkeleyDB hash `Packages` and SUSE's NDB `Packages.db`.

/** The Berkeley DB hash magic, in either byte order, and the page types read (db_page.h). */
const HASH_MAGIC = 0x061561;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;
const PAGE_HEADER = 26;

/** True when `b` starts like a Berkeley DB hash database (its meta page's magic at byte 12). */
export function isBerkeleyHash(b: Buffer): boolean {
  return b.length >= 16 && (b.readUInt32LE(12) === HASH_MAGIC || b.readUInt32BE(12) === HASH_MAGIC);
}

/**
 * The values of a Berkeley DB hash database (rpm's `Packages`: key = package number, value = one header blob), read
 * page by page as the file lies: each bucket page's key/value index pairs, values kept inline (`H_KEYDATA`) or on a
 * chain of overflow pages (`H_OFFPAGE`). Every offset is bounds-checked; a page past the end, a broken chain or a
 * length that does not add up is an error, never a partial value.
 */
export function readBerkeleyHashValues(b: Buffer): Buffer[] {
  if (b.length < 512 || !isBerkeleyHash(b)) throw new Error('not a Berkeley DB hash database');
  const le = b.readUInt32LE(12) === HASH_MAGIC;
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u16 = (at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const version = u32(16);
  const pageSize = u32(20);
  const lastPage = u32(32);
  if (b[25] !== P_HASHMETA) throw new Error(`page 0 is not a hash meta page (type ${b[25]})`);
  if (version < 8 || version > 10) throw new Error(`unsupported hash version ${version}`);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)
    throw new Error(`bad page size ${pageSize}`);
  if (b[24] !== 0) throw new Error('the database is encrypted');
  if ((lastPage + 1) * pageSize > b.length)
    throw new Error(`truncated: ${b.length} bytes, but the database has ${lastPage + 1} pages of ${pageSize}`);
  const page = (n: number) => n * pageSize;

  const overflow = (first: number, total: number): Buffer => {
    const parts: Buffer[] = [];
    let got = 0;
    let n = first;
    for (let hops = 0; n !== 0; hops++) {
      if (n > lastPage || hops > lastPage) throw new Error(`overflow chain from page ${first} is broken at page ${n}`);
      const p = page(n);
      if (b[p + 25] !== P_OVERFLOW || u32(p + 8) !== n) throw new Error(`page ${n} is not an overflow page`);
      const len = u16(p + 22);
      if (PAGE_HEADER + len > pageSize || got + len > total) throw new Error(`overflow page ${n} has a bad length`);
      parts.push(b.subarray(p + PAGE_HEADER, p + PAGE_HEADER + len));
      got += len;
      n = u32(p + 16);
    }
    if (got !== total) throw new Error(`overflow chain from page ${first} holds ${got} of ${total} bytes`);
    return Buffer.concat(parts, total);
  };

  const out: Buffer[] = [];
  for (let n = 1; n <= lastPage; n++) {
    const p = page(n);
    const type = b[p + 25];
    // Pages never written (an empty bucket of a small table) are all zero.
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    if (u32(p + 8) !== n) throw new Error(`page ${n} says it is page ${u32(p + 8)}`);
    const entries = u16(p + 20);
    if (entries % 2 !== 0 || PAGE_HEADER + entries * 2 > pageSize) throw new Error(`page ${n} has a bad index`);
    const offset = (i: number) => u16(p + PAGE_HEADER + i * 2);
    for (let i = 1; i < entries; i += 2) {
      const at = offset(i);
      // Items are stored downwards from the end of the page: an item ends where the one before it starts.
      const end = offset(i - 1);
      if (at < PAGE_HEADER + entries * 2 || at >= end || end > pageSize) throw new Error(`page ${n} has a bad item`);
      const item = p + at;
      if (b[item] === H_OFFPAGE) {
        if (end - at !== 12) throw new Error(`page ${n} has a bad overflow reference`);
        out.push(overflow(u32(item + 4), u32(item + 8)));
      } else if (b[item] === H_KEYDATA) out.push(b.subarray(item + 1, p + end));
      else throw new Error(`page ${n} holds an item of unknown type ${b[item]}`);
    }
  }
  return out;
}

const NDB_MAGIC = 0x506d7052; // 'RpmP' little-endian
const NDB_SLOT = 0x746f6c53; // 'Slot'
const NDB_BLOB = 0x53626c42; // 'BlbS'
const NDB_SLOT_PAGE = 4096;
const NDB_BLOCK = 16;

/** True when `b` starts like an NDB package database (SUSE's `Packages.db`). */
export function isNdb(b: Buffer): boolean {
  return b.length >= 32 && b.readUInt32LE(0) === NDB_MAGIC;
}

/**
 * The header blobs of an NDB database (rpm's `lib/backend/ndb/rpmpkg.c`): a 32-byte header naming the number of 4 KiB
 * slot pages, slots of (magic, package index, block offset, block count), each used slot pointing at a blob of
 * 16-byte blocks that starts with (magic, package index, checksum, length).
 */
export function readNdbBlobs(b: Buffer): Buffer[] {
  if (!isNdb(b)) throw new Error('not an NDB database');
  if (b.readUInt32LE(4) !== 0) throw new Error(`unsupported NDB version ${b.readUInt32LE(4)}`);
  const slotPages = b.readUInt32LE(12);
  if (slotPages === 0 || slotPages > 2048) throw new Error(`bad slot page count ${slotPages}`);
  if (slotPages * NDB_SLOT_PAGE > b.length) throw new Error(`truncated: the slot pages end past ${b.length} bytes`);
  const out: Buffer[] = [];
  // The first two slots' room is the file header.
  for (let at = 32; at < slotPages * NDB_SLOT_PAGE; at += 16) {
    if (b.readUInt32LE(at) !== NDB_SLOT) throw new Error(`bad slot magic at byte ${at}`);
    const index = b.readUInt32LE(at + 4);
    if (index === 0) continue;
    const start = b.readUInt32LE(at + 8) * NDB_BLOCK;
    const blocks = b.readUInt32LE(at + 12);
    if (start + 16 > b.length) throw new Error(`truncated: package ${index}'s blob starts past the end`);
    if (b.readUInt32LE(start) !== NDB_BLOB || b.readUInt32LE(start + 4) !== index)
      throw new Error(`package ${index}'s blob header does not match its slot`);
    const len = b.readUInt32LE(start + 12);
    if (16 + len > blocks * NDB_BLOCK || start + 16 + len > b.length)
      throw new Error(`truncated: package ${index}'s blob of ${len} bytes does not fit`);
    out.push(b.subarray(start + 16, start + 16 + len));
  }
  return out;
}
