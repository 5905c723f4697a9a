// rpm databases for the SBOM tests, built with Debian's rpm/rpmbuild and db5.3-util from real rpm headers.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

export interface RpmSpec {
  epoch?: number;
  license: string;
  requires?: string;
  /** Files the package installs: absolute path → content (written in %install, listed in %files). */
  files?: Record<string, string>;
}

/** Builds a noarch rpm with rpmbuild under `dir` and returns its path. */
export function rpmbuild(dir: string, name: string, version: string, release: string, o: RpmSpec): string {
  mkdirSync(join(dir, 'SPECS'), { recursive: true });
  const spec = join(dir, 'SPECS', `${name}.spec`);
  writeFileSync(
    spec,
    `Name: ${name}\nVersion: ${version}\nRelease: ` +
      `${release}\n${o.epoch !== undefined ? `Epoch: ${o.epoch}\n` : ''}Summary: ${name} for kura\nLicense: ` +
      `${o.license}\nBuildArch: ` +
      `noarch\n${o.requires ? `Requires: ${o.requires}\n` : ''}%description\nfixture\n` +
      `%install\n${Object.entries(o.files ?? {})
        .map(([p, c]) => `mkdir -p "%{buildroot}$(dirname ${p})"\nprintf '%%s' '${c}' > "%{buildroot}${p}"\n`)
        .join('')}` +
      `%files\n${Object.keys(o.files ?? {})
        .map((p) => `${p}\n`)
        .join('')}`,
  );
  execFileSync('rpmbuild', ['--quiet', '--define', `_topdir ${dir}`, '-bb', spec], { stdio: 'ignore' });
  const rpms = join(dir, 'RPMS', 'noarch');
  return join(rpms, readdirSync(rpms).find((f) => f.startsWith(`${name}-${version}`))!);
}

/** Installs rpms into a fresh SQLite rpmdb (--justdb) and returns the database file, checkpointed into one file. */
export function rpmdb(dbpath: string, rpms: string[]): Buffer {
  mkdirSync(dbpath, { recursive: true });
  execFileSync('rpm', ['--dbpath', dbpath, '--initdb']);
  if (rpms.length)
    execFileSync('rpm', ['--dbpath', dbpath, '-i', '--justdb', '--nodeps', '--ignorearch', ...rpms], {
      stdio: 'ignore',
    });
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(join(dbpath, 'rpmdb.sqlite'));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.pragma('journal_mode = DELETE');
  db.close();
  return readFileSync(join(dbpath, 'rpmdb.sqlite'));
}

/** The installed headers of a SQLite rpmdb: `[package number, header blob]`, as rpm wrote them. */
export function rpmdbHeaders(sqliteDbpath: string): [number, Buffer][] {
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(join(sqliteDbpath, 'rpmdb.sqlite'), { readonly: true });
  try {
    const rows = db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').all() as { hnum: number; blob: Buffer }[];
    return rows.map((r) => [r.hnum, r.blob]);
  } finally {
    db.close();
  }
}

/**
 * A BerkeleyDB hash `Packages` written by libdb itself (db5.3_load), holding `headers` under their package numbers
 * (4-byte keys in the database's byte order), as rpm's BerkeleyDB backend stored them. Returns the file.
 */
export function berkeleyPackages(
  dbpath: string,
  headers: [number, Buffer][],
  o: { pageSize: number; bigEndian: boolean },
): Buffer {
  mkdirSync(dbpath, { recursive: true });
  const hex = (b: Buffer) => [...b].map((x) => `\\${x.toString(16).padStart(2, '0')}`).join('');
  const lines = headers.map(([n, blob]) => {
    const key = Buffer.alloc(4);
    if (o.bigEndian) key.writeUInt32BE(n);
    else key.writeUInt32LE(n);
    return `${hex(key)}\n${hex(blob)}\n`;
  });
  const input = join(dbpath, 'load.txt');
  writeFileSync(input, lines.join(''));
  const file = join(dbpath, 'Packages');
  execFileSync('db5.3_load', [
    '-T',
    '-t',
    'hash',
    '-c',
    `db_pagesize=${o.pageSize}`,
    '-c',
    `db_lorder=${o.bigEndian ? 4321 : 1234}`,
    '-f',
    input,
    file,
  ]);
  return readFileSync(file);
}

/** Adler-32 (RFC 1950), the checksum rpm's NDB keeps of each blob. */
function adler32(b: Buffer, a = 1, s = 0): number {
  for (const x of b) {
    a = (a + x) % 65521;
    s = (s + a) % 65521;
  }
  return ((s << 16) | a) >>> 0;
}

/**
 * An NDB `Packages.db` as rpm's `lib/backend/ndb/rpmpkg.c` lays it out. Debian's rpm has no NDB backend (`rpm
 * --showrc`: "available backends: sqlite bdb_ro dummy"), so this writer makes the file: a 32-byte header ('RpmP',
 * version 0, generation, slot page count), 4 KiB slot pages of ('Slot', package number, block offset, block count), and
 * per package a run of 16-byte blocks: ('BlbS', package number, checksum, length), the header blob, then a 12-byte
 * tail (checksum, length, 'BlbE'), which kura does not read.
 */
export function ndbPackages(headers: [number, Buffer][]): Buffer {
  const slotPages = 1;
  const parts: Buffer[] = [];
  const slots = Buffer.alloc(slotPages * 4096);
  slots.write('RpmP', 0, 'latin1');
  slots.writeUInt32LE(0, 4);
  slots.writeUInt32LE(1, 8);
  slots.writeUInt32LE(slotPages, 12);
  for (let at = 32; at < slots.length; at += 16) slots.write('Slot', at, 'latin1');
  let block = slots.length / 16;
  headers.forEach(([n, blob], i) => {
    const blocks = Math.ceil((16 + blob.length + 12) / 16);
    const run = Buffer.alloc(blocks * 16);
    const head = Buffer.alloc(16);
    head.write('BlbS', 0, 'latin1');
    head.writeUInt32LE(n, 4);
    const sum = adler32(blob);
    head.writeUInt32LE(sum, 8);
    head.writeUInt32LE(blob.length, 12);
    head.copy(run, 0);
    blob.copy(run, 16);
    run.writeUInt32LE(sum, 16 + blob.length);
    run.writeUInt32LE(blob.length, 20 + blob.length);
    run.write('BlbE', 24 + blob.length, 'latin1');
    const slot = 32 + i * 16;
    slots.writeUInt32LE(n, slot + 4);
    slots.writeUInt32LE(block, slot + 8);
    slots.writeUInt32LE(blocks, slot + 12);
    parts.push(run);
    block += blocks;
  });
  return Buffer.concat([slots, ...parts]);
}
