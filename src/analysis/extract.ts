import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, rename, rm, symlink, utimes } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { cleanPath } from './flatten.js';
import { contentSource, PathError, resolvePath, shown } from './files.js';
import { readTar } from './flatten.js';
import type { FlatEntry, FsTree } from './fs-tree.js';
import type { ResolvedImage } from './resolve.js';

export interface ExtractOptions {
  /** Copy what a symlink at PATH points to, not the link (docker cp -L). */
  followLink?: boolean;
  onWarning?: (m: string) => void;
}

export interface ExtractResult {
  /** The file or directory written. */
  target: string;
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
}

/**
 * `kura cp IMAGE:PATH DEST` as docker cp does it: DEST an existing directory → DEST/<name of PATH>,
 * else DEST itself. Nothing can land outside the target: every name comes from the image's cleaned
 * paths below PATH, directories are made by us, files are opened with O_EXCL and symlinks are made
 * last, so no write follows a link. Everything goes to a temporary name beside the target, renamed
 * into place when complete. Modes keep the rwx bits (setuid, setgid and sticky are dropped); owners
 * are not changed; devices and FIFOs are skipped with a warning.
 */
export async function extractPath(
  r: ResolvedImage,
  tree: FsTree,
  path: string,
  dest: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  const src = resolvePath(tree, path, !!opts.followLink);
  const st = await lstat(dest).catch(() => undefined);
  const name = src.path === '.' ? 'rootfs' : posix.basename(src.path);
  const target = st?.isDirectory() ? join(dest, name) : dest;
  if (!st) {
    const parent = await lstat(dirname(dest)).catch(() => undefined);
    if (!parent?.isDirectory()) throw new PathError(`${dirname(dest)} is not a directory; create it first`);
  }
  const existing = target === dest ? st : await lstat(target).catch(() => undefined);
  if (existing?.isDirectory())
    throw new PathError(`${target} already exists as a directory; remove it or choose another destination`);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.kura-tmp`);
  const res: ExtractResult = { target, files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  try {
    await writeTree(r, tree, src, tmp, res, opts);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return res;
}

async function writeTree(
  r: ResolvedImage,
  tree: FsTree,
  src: FlatEntry,
  root: string,
  res: ExtractResult,
  opts: ExtractOptions,
): Promise<void> {
  const all = src.type === 'dir' ? [src, ...tree.below(src.path)] : [src];
  const out = (e: FlatEntry) => (e === src ? root : join(root, ...posix.relative(src.path, e.path).split('/')));
  const dirs = all.filter((e) => e.type === 'dir');
  for (const d of dirs) {
    await mkdir(out(d), { mode: 0o700 });
    res.dirs++;
  }
  // Regular files by the layer that holds their bytes: each such layer is read once.
  const wanted = new Map<number, Map<string, FlatEntry[]>>();
  for (const e of all) {
    if (e.type === 'file') {
      const s = contentSource(e);
      let byPath = wanted.get(s.layer);
      if (!byPath) wanted.set(s.layer, (byPath = new Map()));
      byPath.set(s.path, [...(byPath.get(s.path) ?? []), e]);
    } else if (e.type !== 'dir' && e.type !== 'symlink')
      opts.onWarning?.(`${shown(e.path)}: a ${e.type} device or FIFO is not copied`);
  }
  const streams = r.layers.map((l) => l.uncompressed);
  for (const layer of [...wanted.keys()].sort((a, b) => a - b)) {
    const byPath = wanted.get(layer)!;
    for await (const entry of readTar(streams[layer]!)) {
      const h = entry.header;
      if (h.type !== 'file' && h.type !== 'contiguous-file') continue;
      const p = cleanPath(h.name, `layer ${layer}`);
      const targets = byPath.get(p);
      if (!targets || targets[0]!.size !== h.size) continue;
      byPath.delete(p);
      const first = out(targets[0]!);
      await pipeline(entry, createWriteStream(first, { flags: 'wx', mode: 0o600 }));
      for (const t of targets.slice(1)) await copyFile(first, out(t), 1 /* COPYFILE_EXCL */);
      for (const t of targets) {
        await chmod(out(t), t.mode & 0o777);
        await utimes(out(t), t.mtime, t.mtime);
        res.files++;
        res.bytes += t.size;
      }
      if (!byPath.size) break;
    }
    if (byPath.size)
      throw new PathError(
        `layer ${layer} no longer holds ${[...byPath.keys()].map(shown).join(', ')} (a stale index cache? run again ` +
          `with --no-cache)`,
      );
  }
  for (const e of all) {
    if (e.type !== 'symlink') continue;
    await symlink(e.link!, out(e));
    res.symlinks++;
  }
  // Directory modes and times last, deepest first, so a read-only directory did not stop the writes.
  for (const d of dirs.reverse()) {
    await chmod(out(d), d.mode & 0o777);
    await utimes(out(d), d.mtime, d.mtime);
  }
}
