/** One layer step of a stage: its cache key; a cache hit replayed, or the step run, its layer committed and cached. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { openImage } from '../oci/image.js';
import { appendLayers } from '../oci/mutate.js';
import type { CopySource } from './copy.js';
import { layerTar } from './layer-tar.js';
import { applyLayer } from './rootfs.js';
import type { BuildInput, StageState } from './state.js';

export interface StepContext {
  input: BuildInput;
  /** The ARGs before the first FROM, with --build-arg values. */
  metaArgs: Map<string, string>;
  /** ARG names declared anywhere (to warn of unused --build-arg). */
  usedArgs: Set<string>;
  /** The rootfs directory of a stage (by name or index) or of an image (COPY --from, RUN --mount from=). */
  rootfsOf(from: string): Promise<string>;
  /** The digest of what COPY reads (content, modes, owners: not mtimes). */
  inputsDigest(sources: CopySource[], patterns: string[]): Promise<string>;
}

/** What a step changed in the rootfs: paths written (parents before children) and paths deleted. */
export interface Change {
  paths: string[];
  deleted: string[];
}

const sha = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex');

/**
 * Runs `exec` (which changes the rootfs) and appends its layer with the history entry `createdBy`; with a cache,
 * the key is the chain of earlier keys, the instruction, its inputs' digest and the runtime settings, and a hit
 * applies the cached layer to the rootfs instead of running the step.
 */
export async function commitStep(
  s: StageState,
  ctx: StepContext,
  createdBy: string,
  inputs: string,
  exec: () => Promise<Change>,
): Promise<void> {
  const key = sha(s.cacheKey, createdBy, inputs, JSON.stringify(s.config.config ?? {}), JSON.stringify([...s.args]));
  s.cacheKey = key;
  const dir = ctx.input.cacheDir ? join(ctx.input.cacheDir, 'layers', key.slice(0, 2)) : undefined;
  const file = dir ? join(dir, `${key}.tar.gz`) : undefined;
  const entry = { created_by: createdBy, comment: 'buildkit.dockerfile.v0' };
  if (file && !ctx.input.noCache && (await readFile(`${file}.ok`).catch(() => undefined))) {
    ctx.input.onStep?.('--> Using cache');
    await applyLayer(s.rootfs, createReadStream(file).pipe(createGunzip()), ctx.input.onWarning);
    const tar = async () => createReadStream(file).pipe(createGunzip());
    s.image = await appendLayers(s.image, [{ tar }], created(ctx));
    s.history.push(entry);
    return;
  }
  const change = await exec();
  const epoch = ctx.input.epoch !== undefined ? { epoch: ctx.input.epoch } : {};
  const tar = async () => layerTar(s.rootfs, change.paths, change.deleted, epoch);
  s.image = await appendLayers(s.image, [{ tar }], created(ctx));
  s.history.push(entry);
  if (file && dir) {
    // the layer just appended, kept under its key (written beside and renamed: never a half-written entry)
    const layers = openImage(s.image).manifest.layers;
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await mkdir(dir, { recursive: true });
    try {
      await pipeline(await s.image.blobs.open(layers.at(-1)!), createWriteStream(tmp));
      await rename(tmp, file);
      await writeFile(`${file}.ok`, '');
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

function created(ctx: StepContext): { created?: Date } {
  return ctx.input.epoch !== undefined ? { created: new Date(ctx.input.epoch * 1000) } : {};
}
