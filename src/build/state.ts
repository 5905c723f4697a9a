/** What a build and each of its stages carry: inputs, the stage's config, rootfs and new history. */
import type { Readable } from 'node:stream';
import type { Artifact, Platform } from '../oci/artifact.js';
import type { HistoryEntry, ImageConfig } from '../oci/config.js';
import type { Dockerfile } from './dockerfile.js';
import type { IgnoreMatcher } from './dockerignore.js';

export interface BuildInput {
  dockerfile: Dockerfile;
  /** The build context directory. */
  context: string;
  ignore?: IgnoreMatcher;
  buildArgs: Map<string, string>;
  /** The stage to build (name or index); default the last. */
  target?: string;
  platform: Platform;
  /** `--label`s, set on the final image. */
  labels: Record<string, string>;
  /** SOURCE_DATE_EPOCH / --reproducible: history, config and file times clamped to it (seconds). */
  epoch?: number;
  /** `--secret id=ID,src=FILE`: files mounted by RUN --mount=type=secret, never written into a layer. */
  secrets: Map<string, string>;
  /** Where layers are cached and RUN --mount=type=cache directories live; none: no cache. */
  cacheDir?: string;
  /** `--no-cache`: run every step (the results still fill the cache). */
  noCache?: boolean;
  /** Opens an image named by FROM or COPY --from (by the CLI: the local store first, then a registry). */
  openImage(ref: string, platform: Platform): Promise<Artifact>;
  /** One line per step ("[2/3] STEP 1/4: COPY . /app"), and "CACHED" ones. */
  onStep?(line: string): void;
  /** RUN output as it comes: whole lines (stdout and stderr as one stream, in order), each after its step's tag. */
  onOutput?(chunk: Buffer): void;
  onWarning?(message: string): void;
  /** Each layer step's cache entry, run or reused (for `--cache-to`): its key and the cached gzip layer file. */
  onCacheEntry?(key: string, file: string): void;
  /** A stage's pending layers unpacked into its directory (only when a step reads the tree): how many. */
  onUnpack?(layers: number): void;
}

export interface StageState {
  index: number;
  name?: string;
  /** The image being built: the base with this stage's layers appended so far. */
  image: Artifact;
  config: ImageConfig;
  /** The rootfs as a directory: the layers so far applied, but for `pending` (read it through `stageTree`). */
  rootfs: string;
  /** Layers (tar streams) appended but not yet unpacked into `rootfs`, oldest first: unpacked when a step needs it. */
  pending: (() => Promise<Readable> | Readable)[];
  /** History entries of the base (kept) and of this stage (created filled in at the end). */
  history: HistoryEntry[];
  /** ARG values in scope (the ones the stage declared). */
  args: Map<string, string>;
  shell: string[];
  /** Whether this stage's CMD was set (an ENTRYPOINT resets an inherited CMD only). */
  cmdSet: boolean;
  /** The cache key of the last step: the chain the next step's key hangs from. */
  cacheKey: string;
  /** The step being run, as the progress lines name it (`[1/2] STEP 3/4`): the prefix of RUN output lines. */
  step?: string;
  /**
   * A later step of the stage reads the tree's content (a RUN, an ADD, a COPY --chown): a COPY that runs then writes
   * into the unpacked tree, which that step unpacks anyway, rather than beside it (see lazy-tree.ts).
   */
  treeAhead?: boolean;
  /** The build's errors name Dockerfile places; the stage's own directory for temporaries. */
  tmp: string;
}

/** ENV of the config as a map, in order. */
export function envMap(config: ImageConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of config.config?.Env ?? []) {
    const i = e.indexOf('=');
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  return m;
}

/** The variables a word of the stage sees: its ARGs, with ENV taking precedence (as in BuildKit). */
export function stageVars(s: StageState): Map<string, string> {
  return new Map([...s.args, ...envMap(s.config)]);
}

/** A build failed at a place in the Dockerfile (a step's error, a failing RUN). */
export class BuildError extends Error {}
