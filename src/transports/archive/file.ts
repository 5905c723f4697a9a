/** Writing archives: a staging folder beside the target, then the folder tarred into place atomically. */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Header, Pack } from 'tar-stream';

type Headers = Partial<Header> & { name: string };
import { compress, type Compression } from '../../oci/compression.js';
import { forgetTemp, removeTemp, trackTemp } from '../../oci/temps.js';
import { lazy } from '../../oci/lazy.js';

const require = createRequire(import.meta.url);
const tarStream = lazy(() => require('tar-stream') as typeof import('tar-stream'));

/**
 * A staging directory next to `file` (same filesystem, so the final rename is atomic); the caller removes it
 * (`removeTemp`).
 */
export async function stagingDir(file: string): Promise<string> {
  const dir = await mkdtemp(join(dirname(file), `.${basename(file)}.staging-`)).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      e.code === 'ENOENT'
        ? `cannot write ${file}: the directory ${dirname(file)} does not exist; create it first`
        : `cannot write next to ${file}: ${e.message}`,
    );
  });
  trackTemp(dir);
  return dir;
}

/** Every regular file under `dir`, as sorted posix paths relative to it; directories listed before their content. */
async function walk(dir: string, prefix = ''): Promise<{ name: string; dir: boolean }[]> {
  const out: { name: string; dir: boolean }[] = [];
  const names = (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of names) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.name.endsWith('.tmp')) continue;
    if (e.isDirectory()) out.push({ name: rel, dir: true }, ...(await walk(dir, rel)));
    else if (e.isFile()) out.push({ name: rel, dir: false });
  }
  return out;
}

/** Adds one file's bytes as an entry, streaming with backpressure. */
async function addFile(p: Pack, header: Headers, path: string): Promise<void> {
  const size = (await stat(path)).size;
  let settle!: (e?: Error | null) => void;
  const done = new Promise<void>((res, rej) => (settle = (e) => (e ? rej(e) : res())));
  const sink = p.entry({ ...header, type: 'file', size }, settle);
  for await (const chunk of createReadStream(path)) {
    if (!sink.write(chunk as Buffer)) await new Promise<void>((r) => sink.once('drain', () => r()));
  }
  sink.end(undefined);
  await done;
}

async function addEntries(p: Pack, dir: string, first: string[]): Promise<void> {
  const all = await walk(dir);
  const order = [
    ...first.flatMap((f) => all.filter((e) => e.name === f)),
    ...all.filter((e) => !first.includes(e.name)),
  ];
  for (const e of order) {
    const header: Headers = { name: e.name, mode: e.dir ? 0o755 : 0o644, mtime: new Date(0), uid: 0, gid: 0 };
    if (e.dir)
      await new Promise<void>((res, rej) =>
        p.entry({ ...header, type: 'directory' }, (err) => (err ? rej(err) : res())),
      );
    else await addFile(p, header, join(dir, e.name));
  }
  p.finalize();
}

/**
 * Tars `dir` into `file` atomically: entries with mtime 0, uid/gid 0, mode 0644 (0755 for
 * directories), PAX headers where a name needs them, `first` names leading, the rest sorted.
 * Written to `FILE.<random>.tmp` then renamed, so a crash leaves any old FILE intact.
 */
export async function tarDirectory(
  dir: string,
  file: string,
  opts: { first?: string[]; compression?: Compression } = {},
): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  trackTemp(tmp);
  try {
    const p = tarStream().pack();
    const adding = addEntries(p, dir, opts.first ?? []).catch((e: Error) => {
      p.destroy(e);
      throw e;
    });
    const tar = Readable.from(p as AsyncIterable<Buffer>, { objectMode: false });
    const out = opts.compression && opts.compression !== 'none' ? compress(tar, opts.compression) : tar;
    await Promise.all([adding, pipeline(out, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }))]);
    await rename(tmp, file);
    forgetTemp(tmp);
  } catch (e) {
    await removeTemp(tmp);
    throw e;
  }
}
