// Image configs: the typed view, its parser, history entries and chain IDs.
import { digestOf, isDigest, type Digest } from './digest.js';
import { OciError } from './errors.js';

/**
 * The runtime part of an image config (docker's field names, as the spec keeps them, and the ones Docker and
 * buildkit add). Closed: a misspelt key does not compile. Fields of real images not named here stay in the
 * object read (and so in what `withConfig` and the other changes write back), not in this type.
 */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  /** Docker's: the HEALTHCHECK instruction. */
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  /** Docker's: ONBUILD instructions. */
  OnBuild?: string[] | null;
  /** Docker's: the SHELL instruction. */
  Shell?: string[];
  /** Docker's container.Config fields its images carry (empty or false in images it builds). */
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Image?: string;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  StopTimeout?: number;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/**
 * An OCI / Docker image config (`application/vnd.oci.image.config.v1+json`). Closed, like ContainerConfig:
 * unknown fields of a config read stay in the object (and are written back by the changes that start from
 * it), but cannot be written by name.
 */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  /** Docker's legacy image fields (images built by `docker build` before buildkit). */
  comment?: string;
  docker_version?: string;
  parent?: string;
  container?: string;
  container_config?: ContainerConfig;
}

/**
 * `R` where every key, at any depth, is one `T` has (arrays and string maps are taken as they are); other keys
 * become `never`. A callback typed `(c: T) => R & NoExtraKeys<T, R>` so rejects a misspelt key in the object it
 * returns, which TypeScript's own excess-property check misses in a returned spread (`({ ...c, Entrypont })`).
 */
export type NoExtraKeys<T, R> = [NonNullable<T>] extends [readonly unknown[]]
  ? R
  : [NonNullable<T>] extends [object]
    ? R extends object
      ? { [K in keyof R]: K extends keyof NonNullable<T> ? NoExtraKeys<NonNullable<T>[K], R[K]> : never }
      : R
    : R;

function invalid(why: string): OciError {
  return new OciError('MANIFEST_INVALID', `image config invalid: ${why}`);
}

/** Parses and checks the fields every image config must have (architecture, os, rootfs.diff_ids). */
export function parseImageConfig(bytes: Buffer | string): ImageConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (e) {
    throw invalid(`not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a JSON object');
  const c = doc as Partial<ImageConfig>;
  if (typeof c.architecture !== 'string' || !c.architecture) throw invalid('architecture is missing');
  if (typeof c.os !== 'string' || !c.os) throw invalid('os is missing');
  if (!c.rootfs || c.rootfs.type !== 'layers' || !Array.isArray(c.rootfs.diff_ids))
    throw invalid('rootfs must be {"type":"layers","diff_ids":[…]}');
  for (const d of c.rootfs.diff_ids)
    if (typeof d !== 'string' || !isDigest(d))
      throw invalid(`rootfs.diff_ids holds "${String(d).slice(0, 80)}", not a digest`);
  if (c.history !== undefined && !Array.isArray(c.history)) throw invalid('history must be an array');
  if (c.config !== undefined && c.config !== null && (typeof c.config !== 'object' || Array.isArray(c.config)))
    throw invalid('config must be an object');
  return c as ImageConfig;
}

/** History entries paired with the layer index each made (`undefined` for `empty_layer` entries). */
export function historyWithLayers(config: ImageConfig): { entry: HistoryEntry; layer: number | undefined }[] {
  let next = 0;
  return (config.history ?? []).map((entry) => ({ entry, layer: entry.empty_layer ? undefined : next++ }));
}

/** ChainIDs: ChainID(L0) = DiffID(L0); ChainID(L0…n) = sha256(ChainID(L0…n-1) + " " + DiffID(Ln)). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev ? digestOf(`${prev} ${d}`) : d);
  }
  return out;
}
