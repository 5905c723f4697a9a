/** COPY and ADD into a stage's rootfs: sources from the context, a stage or heredocs; owners, modes; tar unpacking. */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { decompress } from '../oci/compression.js';
import { ensureParents, insidePath, mapChunked } from './rootfs.js';
import { applyLayer } from './unpack.js';

/** Where COPY reads: a directory (the context, filtered by .dockerignore, or another stage's rootfs). */
export interface CopySource {
  root: string;
  /** Paths (relative) to leave out: the .dockerignore's. */
  excluded?: (rel: string) => boolean;
  /** The .dockerignore has exceptions: excluded directories must still be walked. */
  walkExcluded?: boolean;
  /** Keep the owners of what is copied (COPY --from); the context's files become 0:0. */
  keepOwners: boolean;
}

export interface CopyRequest {
  sources: string[];
  dest: string;
  workdir: string;
  chown?: { uid: number; gid: number };
  chmod?: number;
  /** ADD: a local tar archive (plain, gzip, bzip2 not included, zstd) is unpacked at the destination. */
  extract: boolean;
  /** Files made from heredocs, by name. */
  heredocs?: Map<string, string>;
  /** `COPY --parents`: each source keeps its path (after a `/./` pivot, if any) under the destination directory. */
  parents?: boolean;
}

export class CopyError extends Error {}

/** Paths under `root` matching a source pattern (filepath.Match wildcards per segment); literal paths as they are. */
async function expandSource(src: CopySource, pattern: string): Promise<string[]> {
  const rel = insidePath(pattern);
  if (!/[*?[]/.test(rel)) {
    if (src.excluded?.(rel) && rel !== '') throw new CopyError(`"${pattern}" is excluded by .dockerignore`);
    const st = await lstat(join(src.root, rel)).catch(() => undefined);
    if (!st) throw new CopyError(`"${pattern}" not found: no such file or directory in the build context`);
    return [rel];
  }
  let found = [''];
  for (const seg of rel.split('/')) {
    const re = new RegExp(
      `^${seg
        .replace(/[.+^${}()|\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
    const next: string[] = [];
    for (const dir of found) {
      const names = await readdir(join(src.root, dir)).catch(() => [] as string[]);
      for (const n of names.sort()) if (re.test(n)) next.push(dir ? `${dir}/${n}` : n);
    }
    found = next;
  }
  found = found.filter((p) => !src.excluded?.(p));
  if (found.length === 0) throw new CopyError(`no source files were specified: "${pattern}" matches nothing`);
  return found;
}

/** A symlink-free path inside `root` for `rel`, links followed as if `root` were `/` (as BuildKit resolves a dest). */
export async function resolveIn(root: string, rel: string, hops = 0): Promise<string> {
  const parts = insidePath(rel).split('/').filter(Boolean);
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    const next = cur ? `${cur}/${parts[i]}` : parts[i]!;
    const st = await lstat(join(root, next)).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (hops > 40) throw new CopyError(`too many levels of symbolic links at /${next}`);
      const target = await readlink(join(root, next));
      const base = target.startsWith('/') ? target : posix.join(cur, target);
      return resolveIn(root, posix.join(base, ...parts.slice(i + 1)), hops + 1);
    }
    cur = next;
  }
  return cur;
}

/** Runs one COPY/ADD; returns the rootfs paths it wrote (for the layer). */
export async function copyInto(root: string, sources: CopySource[], req: CopyRequest, epoch: Date): Promise<string[]> {
  const written: string[] = [];
  const destRaw = req.dest.startsWith('/') ? req.dest : posix.join(req.workdir || '/', req.dest);
  const items: { src: CopySource; rel: string; name: string }[] = [];
  for (const s of req.sources) {
    if (req.heredocs?.has(s.replace(/^<<-?["']?|["']$/g, ''))) continue;
    // --parents: the path kept is the one after a "/./" pivot of the source, else the whole of it (as BuildKit)
    const pivot = req.parents && s.includes('/./') ? insidePath(s.slice(0, s.indexOf('/./'))) : '';
    for (const src of sources)
      for (const rel of await expandSource(src, s))
        items.push({ src, rel, name: pivot && rel.startsWith(`${pivot}/`) ? rel.slice(pivot.length + 1) : rel });
  }
  const docs = [...(req.heredocs ?? [])];
  const many = items.length + docs.length > 1 || req.sources.some((s) => /[*?[]/.test(s));
  const destIsDir = req.dest.endsWith('/') || many || !!req.parents;
  const dest = await resolveIn(root, destRaw);
  const st = await lstat(join(root, dest)).catch(() => undefined);
  if (many && st && !st.isDirectory()) throw new CopyError(`destination ${destRaw} is not a directory: add a "/"`);
  const made: string[] = [];
  await ensureParents(root, dest, made);
  for (const d of made) await own(root, d, req, undefined); // created parents take --chown, as in BuildKit
  written.push(...made);
  if (destIsDir && !st) {
    await mkdir(join(root, dest), { mode: 0o755 });
    await chmod(join(root, dest), 0o755);
    await own(root, dest, req, undefined);
    written.push(dest);
  }
  const into = async (name: string) => (destIsDir || (st?.isDirectory() ?? false) ? posix.join(dest, name) : dest);
  for (const [name, body] of docs) {
    const to = await into(name);
    await rm(join(root, to), { recursive: true, force: true });
    await writeFile(join(root, to), body, { mode: 0o644 });
    await chmod(join(root, to), req.chmod ?? 0o644);
    await own(root, to, req, undefined);
    await lutimes(join(root, to), epoch, epoch);
    written.push(to);
  }
  for (const { src, rel, name } of items) {
    const from = join(src.root, rel);
    const fst = await lstat(from);
    if (req.parents && name) {
      const to = posix.join(dest, name);
      const parents: string[] = [];
      await ensureParents(root, to, parents);
      for (const d of parents) await own(root, d, req, undefined);
      written.push(...parents);
      if (fst.isDirectory()) await copyTree(src, rel, root, to, req, written);
      else {
        await copyOne(src, rel, root, to, req);
        written.push(to);
      }
    } else if (fst.isDirectory()) {
      // a directory's content is copied, not the directory itself
      await copyTree(src, rel, root, dest, req, written);
    } else if (req.extract && fst.isFile() && (await isArchive(from))) {
      const { stream } = await decompress(createReadStream(from));
      await applyLayer(join(root, dest), stream);
      written.push(...(await listTree(join(root, dest), dest)));
    } else {
      const to = await into(posix.basename(rel));
      await copyOne(src, rel, root, to, req);
      written.push(to);
    }
  }
  return written;
}

async function copyTree(
  src: CopySource,
  rel: string,
  root: string,
  to: string,
  req: CopyRequest,
  written: string[],
): Promise<void> {
  const st = await lstat(join(root, to)).catch(() => undefined);
  if (!st) {
    await mkdir(join(root, to));
    await applyMeta(src, rel, root, to, req);
    written.push(to);
  } else if (!st.isDirectory()) throw new CopyError(`cannot copy directory ${rel || '.'} onto file /${to}`);
  for (const name of (await readdir(join(src.root, rel))).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const t = to ? `${to}/${name}` : name;
    const isDir = (await lstat(join(src.root, r))).isDirectory();
    if (src.excluded?.(r)) {
      // an excluded directory is still walked when exceptions may name something inside it (kept if they do)
      if (!isDir || !src.walkExcluded) continue;
      const n = written.length;
      await copyTree(src, r, root, t, req, written);
      if (written.length === n + 1 && written[n] === t) {
        written.pop();
        await rm(join(root, t), { recursive: true });
      }
      continue;
    }
    if (isDir) await copyTree(src, r, root, t, req, written);
    else {
      await copyOne(src, r, root, t, req);
      written.push(t);
    }
  }
}

async function copyOne(src: CopySource, rel: string, root: string, to: string, req: CopyRequest): Promise<void> {
  const from = join(src.root, rel);
  const fst = await lstat(from);
  const target = join(root, to);
  const old = await lstat(target).catch(() => undefined);
  if (old?.isDirectory())
    throw new CopyError(`cannot copy file ${rel} onto directory /${to}: add a "/" to the destination`);
  if (old) await rm(target, { force: true });
  if (fst.isSymbolicLink()) await symlink(await readlink(from), target);
  else if (fst.isFile()) await copyFile(from, target);
  else throw new CopyError(`${rel} is not a regular file, directory or symlink`);
  await applyMeta(src, rel, root, to, req);
}

async function applyMeta(src: CopySource, rel: string, root: string, to: string, req: CopyRequest): Promise<void> {
  const fst = await lstat(join(src.root, rel));
  const target = join(root, to);
  if (!fst.isSymbolicLink()) await chmod(target, req.chmod ?? fst.mode & 0o7777);
  await own(root, to, req, src.keepOwners ? { uid: fst.uid, gid: fst.gid } : undefined);
  await lutimes(target, fst.mtime, fst.mtime);
}

async function own(root: string, to: string, req: CopyRequest, keep?: { uid: number; gid: number }): Promise<void> {
  const o = req.chown ?? keep ?? { uid: 0, gid: 0 };
  await lchown(join(root, to), o.uid, o.gid);
}

async function listTree(dir: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = `${prefix}/${e.name}`;
    out.push(p);
    if (e.isDirectory()) out.push(...(await listTree(join(dir, e.name), p)));
  }
  return out;
}

/** Whether a file is a tar archive (maybe compressed), as ADD decides: by its content, not its name. */
async function isArchive(path: string): Promise<boolean> {
  try {
    const { stream } = await decompress(createReadStream(path));
    const head: Buffer[] = [];
    let n = 0;
    for await (const c of stream as Readable) {
      head.push(c as Buffer);
      n += (c as Buffer).length;
      if (n >= 512) break;
    }
    stream.destroy();
    const b = Buffer.concat(head);
    return b.length >= 512 && b.subarray(257, 262).toString() === 'ustar';
  } catch {
    return false;
  }
}

/** Files read ahead while hashing (the hash takes them in order); a file over BUFFERED is streamed at its turn. */
const AHEAD = 32;
const BUFFERED = 1 << 20;

/** The digest of the content COPY reads (paths, modes, owners, bytes), not of mtimes: the cache key's input part. */
export async function contentDigest(sources: CopySource[], patterns: string[]): Promise<string> {
  const h = createHash('sha256');
  const entries: { src: CopySource; rel: string; st: Stats }[] = [];
  const walk = async (src: CopySource, rel: string, st: Stats): Promise<void> => {
    entries.push({ src, rel, st });
    if (!st.isDirectory()) return;
    const names = (await readdir(join(src.root, rel))).sort().map((n) => (rel ? `${rel}/${n}` : n));
    const kept = names.filter((r) => !src.excluded?.(r));
    const stats = await mapChunked(kept, (r) => lstat(join(src.root, r)));
    for (const [i, r] of kept.entries()) await walk(src, r, stats[i]!);
  };
  for (const src of sources)
    for (const p of patterns)
      for (const rel of await expandSource(src, p).catch(() => []))
        await walk(src, rel, await lstat(join(src.root, rel)));
  // what each entry adds after its header: a symlink's target, a file's bytes (read a few entries ahead)
  const body = ({ src, rel, st }: (typeof entries)[number]): Promise<Buffer | string | undefined> | undefined => {
    if (st.isDirectory()) return undefined;
    if (st.isSymbolicLink()) return readlink(join(src.root, rel));
    return st.size <= BUFFERED ? readFile(join(src.root, rel)) : undefined;
  };
  const ahead = new Map<number, Promise<Buffer | string | undefined> | undefined>();
  let next = 0;
  for (const [i, e] of entries.entries()) {
    for (; next < entries.length && next < i + AHEAD; next++) {
      const read = body(entries[next]!);
      read?.catch(() => undefined); // awaited in turn; an error must not go unhandled while earlier ones are hashed
      ahead.set(next, read);
    }
    h.update(`${e.rel}\0${e.st.mode}\0${e.src.keepOwners ? `${e.st.uid}:${e.st.gid}` : ''}\0`);
    const got = await ahead.get(i);
    ahead.delete(i);
    const path = join(e.src.root, e.rel);
    if (got !== undefined) h.update(got);
    else if (!e.st.isDirectory()) for await (const c of createReadStream(path)) h.update(c as Buffer);
  }
  return `sha256:${h.digest('hex')}`;
}
