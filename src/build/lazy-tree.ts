/** A stage tree known from its pending layers' headers (nothing unpacked), and scratch roots reproducing a part. */
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { openImage } from '../oci/image.js';
import { knownIndex, layerIndex, type LayerEntry } from './layer-index.js';
import { layerTar } from './layer-tar.js';
import { insidePath } from './rootfs.js';
import type { BuildInput, StageState } from './state.js';
import type { Change } from './step.js';

export interface Node {
  type: 'dir' | 'file' | 'symlink';
  link: string;
  children?: Map<string, Node>;
}

const newDir = (): Node => ({ type: 'dir', link: '', children: new Map() });

/**
 * The tree the unpacker (unpack.ts) would make of some layers, as types and link targets only: the same rules
 * (whiteouts, opaque directories keeping this layer's entries, a non-directory replacing a tree, missing parents
 * made). `strange` is set where the unpacker would fail or behave otherwise (a parent that is not a directory, a
 * hard link to nothing): the tree must then be read from the unpacked directory.
 */
export class TreeView {
  readonly root = newDir();
  strange = false;

  /** The node at `rel`; undefined when missing, null when a parent on the way is not a directory. */
  lookup(rel: string): Node | null | undefined {
    let n = this.root;
    for (const part of rel.split('/').filter(Boolean)) {
      if (n.type !== 'dir') return null;
      const next = n.children!.get(part);
      if (!next) return undefined;
      n = next;
    }
    return n;
  }

  /** The directory holding `rel`, its missing parents made as the unpacker's ensureParents makes them. */
  private parent(rel: string): Node | undefined {
    let n = this.root;
    const parts = rel.split('/');
    for (const part of parts.slice(0, -1)) {
      let next = n.children!.get(part);
      if (!next) n.children!.set(part, (next = newDir()));
      if (next.type !== 'dir') {
        this.strange = true;
        return undefined;
      }
      n = next;
    }
    return n;
  }

  /** Applies one layer's entries, in order. */
  apply(entries: LayerEntry[]): void {
    const written = new Set<string>();
    for (const [name, type, , , , , link] of entries) {
      const rel = insidePath(name);
      const base = posix.basename(rel);
      const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
      if (base === '.wh..wh..opq') {
        const d = this.lookup(dir);
        if (d === null || (d && d.type !== 'dir')) this.strange = true;
        else if (d)
          for (const n of [...d.children!.keys()]) if (!written.has(dir ? `${dir}/${n}` : n)) d.children!.delete(n);
      } else if (base.startsWith('.wh.')) {
        this.parent(rel)?.children!.delete(base.slice(4));
      } else if (rel !== '') {
        const p = this.parent(rel);
        if (!p) continue;
        const old = p.children!.get(base);
        if (type === 'directory') {
          if (old?.type !== 'dir') p.children!.set(base, newDir());
        } else if (type === 'file' || type === 'contiguous-file') p.children!.set(base, { type: 'file', link: '' });
        else if (type === 'symlink') p.children!.set(base, { type: 'symlink', link });
        else if (type === 'link') {
          const target = this.lookup(insidePath(link));
          if (target?.type !== 'file') this.strange = true;
          p.children!.set(base, { type: 'file', link: '' });
        } else p.children!.delete(base); // devices, fifos: the unpacker removes what was there and makes nothing
        written.add(rel);
      }
    }
  }
}

/**
 * The stage's tree from its pending layers' headers, when nothing of it is unpacked yet (every layer of the image
 * pending) and the unpacker would do nothing unusual; else undefined: read the directory. With `known`, only from
 * headers kept already (none is read from a layer).
 */
export async function pendingView(s: StageState, input: BuildInput, known = false): Promise<TreeView | undefined> {
  const diffIds = (await openImage(s.image).config()).rootfs.diff_ids;
  if (s.pending.length !== diffIds.length) return undefined;
  const view = new TreeView();
  for (const [i, open] of s.pending.entries()) {
    const entries = known
      ? await knownIndex(diffIds[i]!, input.cacheDir, input.noCache)
      : await layerIndex(diffIds[i]!, open, input.cacheDir, input.noCache);
    if (!entries) return undefined;
    view.apply(entries);
  }
  return view.strange ? undefined : view;
}

/**
 * Whether `rel` and its parents are real directories or missing (a file is allowed at `rel` itself with
 * `fileOk`): what a write at `rel` meets without following a symlink. Undefined: something else is on the way.
 */
export function plainPath(view: TreeView, rel: string, fileOk: boolean): { missing: string[] } | undefined {
  const missing: string[] = [];
  const parts = rel.split('/').filter(Boolean);
  let cur = '';
  for (const [i, part] of parts.entries()) {
    cur = cur ? `${cur}/${part}` : part;
    const n = missing.length ? undefined : view.lookup(cur);
    if (n === undefined) missing.push(cur);
    else if (n === null || (n.type !== 'dir' && !(fileOk && i === parts.length - 1 && n.type === 'file')))
      return undefined;
  }
  return { missing };
}

/**
 * A scratch directory holding what the stage's tree has at `rel`'s parents and at and below `rel`: directories,
 * empty files and symlinks of the same names and types (contents, modes and owners of these never reach a layer:
 * only paths a step writes, with what the step gives them, do).
 */
export async function scratchRoot(s: StageState, view: TreeView, rel: string): Promise<string> {
  const root = await mkdtemp(join(s.tmp, 'lazy-'));
  if (rel === '') for (const [name, c] of view.root.children!) await make(root, name, c, true);
  let cur = '';
  for (const part of rel.split('/').filter(Boolean)) {
    const n = view.lookup((cur = cur ? `${cur}/${part}` : part));
    if (!n) break;
    await make(root, cur, n, cur === rel);
  }
  return root;
}

async function make(root: string, rel: string, n: Node, deep: boolean): Promise<void> {
  if (n.type === 'file') return writeFile(join(root, rel), '');
  if (n.type === 'symlink') return symlink(n.link, join(root, rel));
  await mkdir(join(root, rel));
  if (!deep) return;
  const kids = [...n.children!];
  for (let i = 0; i < kids.length; i += 32)
    await Promise.all(kids.slice(i, i + 32).map(([name, c]) => make(root, `${rel}/${name}`, c, true)));
}

/** A step's layer made in its own directory (`root`), pending on the stage's tree like a pulled layer. */
export function scratchLayer(s: StageState, input: BuildInput, root: string, paths: string[]): Change {
  const opts = input.epoch !== undefined ? { epoch: input.epoch } : {};
  s.pending.push(() => layerTar(root, paths, [], opts));
  return { root, paths, deleted: [] };
}
