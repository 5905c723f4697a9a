// A layer tar made from a directory on disk, reproducibly (sorted names, root owner, one fixed mtime), as ko does.
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const require = createRequire(import.meta.url);

export interface DirLayerOptions {
  /** Modification time of every entry (default 1970-01-01, as ko without SOURCE_DATE_EPOCH). */
  mtime?: Date;
  /** Where the directory's contents go in the image (default `/`), e.g. `/app`. */
  prefix?: string;
}

/**
 * A tar stream of `dir`'s contents: directories, regular files (mode kept, setuid/setgid dropped) and symlinks,
 * owned by 0:0, names sorted; sockets, FIFOs and devices are skipped. The tar is made as it is read.
 */
export function dirLayer(dir: string, opts: DirLayerOptions = {}): Readable {
  const tar = require('tar-stream') as typeof import('tar-stream');
  const pack = tar.pack();
  const mtime = opts.mtime ?? new Date(0);
  const prefix = (opts.prefix ?? '/').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((s) => s === '..' || s === '.'))
    throw new Error(`layer prefix "${opts.prefix}" has a . or .. segment: give an absolute path such as /app`);
  const base = { uid: 0, gid: 0, uname: '', gname: '', mtime };
  const out = new PassThrough();
  async function parents(): Promise<void> {
    const parts = prefix ? prefix.split('/') : [];
    for (let i = 1; i <= parts.length; i++)
      pack.entry({ ...base, name: `${parts.slice(0, i).join('/')}/`, type: 'directory', mode: 0o755 });
  }
  async function walk(abs: string, rel: string): Promise<void> {
    for (const name of (await readdir(abs)).sort()) {
      const p = join(abs, name);
      const inTar = [prefix, rel, name].filter(Boolean).join('/');
      const st = await lstat(p);
      const mode = st.mode & 0o1777;
      if (st.isDirectory()) {
        pack.entry({ ...base, name: `${inTar}/`, type: 'directory', mode });
        await walk(p, rel ? `${rel}/${name}` : name);
      } else if (st.isSymbolicLink()) {
        pack.entry({ ...base, name: inTar, type: 'symlink', linkname: await readlink(p), mode: 0o777 });
      } else if (st.isFile()) {
        const entry = pack.entry({ ...base, name: inTar, type: 'file', mode, size: st.size });
        await pipeline(createReadStream(p), entry);
      }
    }
  }
  (async () => {
    await parents();
    await walk(dir, '');
    pack.finalize();
  })().catch((e: Error) => pack.destroy(e));
  pack.on('error', (e) => out.destroy(e));
  return pack.pipe(out);
}
