/** One layer step of a stage: its cache key; a cache hit replayed, or the step run, its layer committed and cached. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, fstatSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { openImage } from '../oci/image.js';
import type { Digest } from '../oci/digest.js';
import { appendLayers } from '../oci/mutate.js';
import { SpooledBlob } from '../oci/spool.js';
import { measuring } from '../oci/verify.js';
import type { CopySource } from './copy.js';
import { layerTar } from './layer-tar.js';
import { applyLayer } from './unpack.js';
import { isDiffId, knownIndex, readEntries, rememberIndex, toEntry, type LayerEntry } from './layer-index.js';
import type { BuildInput, StageState } from './state.js';

export interface StepContext {
  input: BuildInput;
  /** The ARGs before the first FROM, with --build-arg values. */
  metaArgs: Map<string, string>;
  /** ARG names declared anywhere (to warn of unused --build-arg). */
  usedArgs: Set<string>;
  /** The rootfs directory of a stage (by name or index) or of an image (COPY --from, RUN --mount from=). */
  rootfsOf(from: string): Promise<string>;
  /**
   * What a stage's or image's tree holds (COPY --from, RUN --mount=from=), from the digests of its layers (the tar
   * of each, in order): the same layers, the same tree, so a key made of it needs nothing unpacked or read.
   */
  treeKey(from: string): Promise<string>;
  /** The digest of what COPY reads from the context (content, modes, owners: not mtimes). */
  inputsDigest(sources: CopySource[], patterns: string[]): Promise<string>;
}

/** What a step changed in the rootfs: paths written (parents before children) and paths deleted. */
export interface Change {
  paths: string[];
  deleted: string[];
  /** Where the paths are read from for the layer, when not the stage's rootfs (`COPY --link`'s own directory). */
  root?: string;
}

const sha = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex');

/**
 * Runs `exec` (which changes the rootfs) and appends its layer with the history entry `createdBy`; with a cache,
 * the key is the chain of earlier keys, the instruction, its inputs' digest and the runtime settings, and a hit
 * applies the cached layer to the rootfs instead of running the step. With `independent`, the key leaves out what
 * came before (the chain, the config, the ARGs): `inputs` must then hold all the step depends on.
 */
export async function commitStep(
  s: StageState,
  ctx: StepContext,
  createdBy: string,
  inputs: string,
  exec: () => Promise<Change>,
  o: { independent?: boolean } = {},
): Promise<void> {
  // an independent step (COPY --link) has a key of its own inputs only; the chain goes on from both
  const key = o.independent
    ? sha('link', createdBy, inputs)
    : sha(s.cacheKey, createdBy, inputs, JSON.stringify(s.config.config ?? {}), JSON.stringify([...s.args]));
  s.cacheKey = o.independent ? sha(s.cacheKey, key) : key;
  const file = ctx.input.cacheDir ? cachedLayerPath(ctx.input.cacheDir, key) : undefined;
  const entry = { created_by: createdBy, comment: 'buildkit.dockerfile.v0' };
  if (file && !ctx.input.noCache && (await readFile(`${file}.ok`).catch(() => undefined))) {
    ctx.input.onStep?.('--> Using cache');
    // unpacked only when a later step reads the tree (a RUN that runs, a COPY that copies, COPY --from)
    s.pending.push(() => createReadStream(file).pipe(createGunzip()));
    // the cached gzip blob goes into the image as it is: no gunzip and gzip again
    const compressed = await cachedLayer(file);
    const tar = async () => (await compressed.blob.open()).pipe(createGunzip());
    s.image = await appendLayers(s.image, [{ tar, compressed }], created(ctx));
    s.history.push(entry);
    ctx.input.onCacheEntry?.(key, file);
    return;
  }
  const change = await exec();
  const epoch = ctx.input.epoch !== undefined ? { epoch: ctx.input.epoch } : {};
  // the new layer's headers are read as it is written, and kept under its diff_id (lazy-tree.ts reads them)
  let seen: Promise<LayerEntry[]> | undefined;
  const tar = async () => {
    const t = layerTar(change.root ?? s.rootfs, change.paths, change.deleted, epoch);
    if (seen) return t;
    const [a, b] = [new PassThrough(), new PassThrough()];
    t.on('error', (e) => (a.destroy(e), b.destroy(e)));
    t.pipe(a);
    t.pipe(b);
    seen = readEntries(b);
    seen.catch(() => undefined); // awaited once the layer is appended
    return a;
  };
  s.image = await appendLayers(s.image, [{ tar }], created(ctx));
  s.history.push(entry);
  const diffId = (await openImage(s.image).config()).rootfs.diff_ids.at(-1)!;
  if (seen) await rememberIndex(diffId, await seen, ctx.input.cacheDir);
  if (ctx.input.cacheDir && file) {
    // the layer just appended, kept under its key (written beside and renamed: never a half-written entry)
    const img = openImage(s.image);
    const layer = img.manifest.layers.at(-1)!;
    const facts = { digest: layer.digest, size: layer.size, diffId: (await img.config()).rootfs.diff_ids.at(-1)! };
    await importCachedLayer(ctx.input.cacheDir, key, () => s.image.blobs.open(layer), true, facts);
    ctx.input.onCacheEntry?.(key, file);
  }
}

/** The stage's rootfs directory with every pending layer unpacked into it (whiteouts applied), in order. */
export function stageTree(s: StageState, input: BuildInput): Promise<string> {
  const run = async () => {
    if (!s.pending.length) return;
    const ids = (await openImage(s.image).config()).rootfs.diff_ids;
    // with every layer pending, layer i is diff_ids[i]: the headers met while unpacking are kept (lazy-tree.ts)
    const whole = ids.length === s.pending.length;
    const layers = s.pending.splice(0);
    input.onUnpack?.(layers.length);
    for (const [i, l] of layers.entries()) {
      const id = whole ? ids[i]! : undefined;
      if (!id || (await knownIndex(id, input.cacheDir, input.noCache))) {
        await applyLayer(s.rootfs, await l(), input.onWarning);
        continue;
      }
      // kept only when the tar unpacked is the one its diff_id names (an image's config may state any)
      const seen: LayerEntry[] = [];
      const m = measuring();
      const tar = await l();
      tar.on('error', (e) => m.t.destroy(e));
      await applyLayer(s.rootfs, tar.pipe(m.t), input.onWarning, (e) => void seen.push(toEntry(e)));
      if (m.result().digest === id) await rememberIndex(id, seen, input.cacheDir);
    }
  };
  // one unpacking at a time per stage: a second reader waits for the first's layers to land
  const done = (unpacking.get(s) ?? Promise.resolve()).then(run);
  unpacking.set(
    s,
    done.catch(() => undefined),
  );
  return done.then(() => s.rootfs);
}

const unpacking = new WeakMap<StageState, Promise<void>>();

/** Waits for an unpacking of the stage under way (before its directory and pending layers are copied). */
export const unpackSettled = (s: StageState): Promise<void> => unpacking.get(s) ?? Promise.resolve();

/** Where the layer of the step with cache key `key` is kept (gzip), with `${path}.ok` beside it once complete. */
export function cachedLayerPath(cacheDir: string, key: string): string {
  return join(cacheDir, 'layers', key.slice(0, 2), `${key}.tar.gz`);
}

/** What `${path}.ok` holds (JSON; empty in caches of older versions): the gzip blob's digest and size, the tar's. */
interface LayerFacts {
  digest: Digest;
  size: number;
  diffId: Digest;
}

/**
 * A cached layer as a blob to append as it is, read through a descriptor opened now (a later replacement of the
 * file cannot change it); its digests from `.ok`, or (an entry without them) hashed once and written there.
 */
export async function cachedLayer(file: string): Promise<LayerFacts & { blob: SpooledBlob }> {
  const fd = openSync(file, 'r');
  const blob = new SpooledBlob(fd, fstatSync(fd).size);
  const known = await readFile(`${file}.ok`, 'utf8')
    .then((t) => (t ? (JSON.parse(t) as LayerFacts) : undefined))
    .catch(() => undefined);
  if (known?.size === blob.size && isDiffId(known.digest) && isDiffId(known.diffId)) return { ...known, blob };
  const [gz, tar] = [measuring(), measuring()];
  await pipeline(await blob.open(), gz.t, createGunzip(), tar.t, new Writable({ write: (_c, _e, cb) => cb() }));
  const facts = { digest: gz.result().digest, size: blob.size, diffId: tar.result().digest };
  await writeOk(file, facts as LayerFacts);
  return { ...(facts as LayerFacts), blob };
}

async function writeOk(file: string, facts?: LayerFacts): Promise<void> {
  const tmp = `${file}.ok.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, facts ? JSON.stringify(facts) : '');
  await rename(tmp, `${file}.ok`);
}

/** Keeps a layer (gzip) fetched from an imported cache under its key, unless it is there already. */
export async function importCachedLayer(
  cacheDir: string,
  key: string,
  gz: () => Promise<Readable>,
  replace = false,
  facts?: LayerFacts,
): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`the build cache key ${key.slice(0, 80)} is not a sha256 hex`);
  const file = cachedLayerPath(cacheDir, key);
  if (!replace && (await readFile(`${file}.ok`).catch(() => undefined))) return false;
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await pipeline(await gz(), createWriteStream(tmp));
    await rename(tmp, file);
    await writeOk(file, facts);
  } finally {
    await rm(tmp, { force: true });
  }
  return true;
}

function created(ctx: StepContext): { created?: Date } {
  return ctx.input.epoch !== undefined ? { created: new Date(ctx.input.epoch * 1000) } : {};
}
