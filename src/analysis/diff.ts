import type { ImageConfig } from '../oci/config.js';
import { shown } from './files.js';
import type { FlatEntry } from './fs-tree.js';
import { imageTree } from './files.js';
import type { ImageIndexOptions } from './image-index.js';
import type { ResolvedImage } from './resolve.js';

/** What a path is, for a diff. */
export interface FileState {
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  digest?: string;
  link?: string;
}

export interface FileChange {
  path: string;
  /** docker diff's letters: A added, D deleted, C changed. */
  kind: 'A' | 'D' | 'C';
  before?: FileState;
  after?: FileState;
  /** For C: which of type, size, mode, owner, content, link differ. */
  fields?: string[];
}

export interface ConfigChange {
  /** `env.PATH`, `labels.org.opencontainers.image.version`, `cmd`, `ports`, `platform`, … */
  field: string;
  before: unknown;
  after: unknown;
}

export interface DiffReport {
  a: { image: string; config: string };
  b: { image: string; config: string };
  files: FileChange[];
  config: ConfigChange[];
  layers: { shared: string[]; onlyA: string[]; onlyB: string[] };
  summary: { added: number; removed: number; changed: number; configChanges: number; sharedLayers: number };
}

function state(e: FlatEntry): FileState {
  return {
    type: e.type,
    size: e.size,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    ...(e.digest ? { digest: e.digest } : {}),
    ...(e.type === 'symlink' ? { link: e.link } : {}),
  };
}

function fileFields(x: FlatEntry, y: FlatEntry): string[] {
  const out: string[] = [];
  if (x.type !== y.type) out.push('type');
  if (x.size !== y.size) out.push('size');
  if (x.mode !== y.mode) out.push('mode');
  if (x.uid !== y.uid || x.gid !== y.gid) out.push('owner');
  if (x.type === 'file' && y.type === 'file' && x.digest !== y.digest) out.push('content');
  if ((x.type === 'symlink' || y.type === 'symlink') && x.link !== y.link) out.push('link');
  return out;
}

/** Compares two maps of values key by key (env vars, labels, ports). */
function keyed(prefix: string, x: Record<string, unknown>, y: Record<string, unknown>, out: ConfigChange[]): void {
  for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
    if (JSON.stringify(x[k]) !== JSON.stringify(y[k]))
      out.push({ field: `${prefix}.${k}`, before: x[k] ?? null, after: y[k] ?? null });
  }
}

const envMap = (env: string[] | undefined | null) =>
  Object.fromEntries((env ?? []).map((kv) => [kv.split('=')[0]!, kv.slice(kv.indexOf('=') + 1)]));

/** Config differences that matter when running the image. */
export function diffConfigs(a: ImageConfig, b: ImageConfig): ConfigChange[] {
  const out: ConfigChange[] = [];
  const ca = a.config ?? {};
  const cb = b.config ?? {};
  const plat = (c: ImageConfig) => [c.os, c.architecture, c.variant].filter(Boolean).join('/');
  if (plat(a) !== plat(b)) out.push({ field: 'platform', before: plat(a), after: plat(b) });
  for (const [field, key] of [
    ['entrypoint', 'Entrypoint'],
    ['cmd', 'Cmd'],
    ['user', 'User'],
    ['workdir', 'WorkingDir'],
    ['stopsignal', 'StopSignal'],
    ['healthcheck', 'Healthcheck'],
  ] as const) {
    const x = ca[key] ?? null;
    const y = cb[key] ?? null;
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ field, before: x, after: y });
  }
  keyed('env', envMap(ca.Env), envMap(cb.Env), out);
  keyed('labels', ca.Labels ?? {}, cb.Labels ?? {}, out);
  const ports = (c: typeof ca) => Object.keys((c.ExposedPorts as Record<string, unknown> | undefined) ?? {}).sort();
  if (JSON.stringify(ports(ca)) !== JSON.stringify(ports(cb)))
    out.push({ field: 'ports', before: ports(ca), after: ports(cb) });
  const vols = (c: typeof ca) => Object.keys((c.Volumes as Record<string, unknown> | undefined) ?? {}).sort();
  if (JSON.stringify(vols(ca)) !== JSON.stringify(vols(cb)))
    out.push({ field: 'volumes', before: vols(ca), after: vols(cb) });
  return out;
}

/** `kura diff A B`: files (by content digest), config and layers of two images, from any two locations. */
export async function diffImages(
  a: ResolvedImage,
  b: ResolvedImage,
  opts: ImageIndexOptions = {},
): Promise<DiffReport> {
  const ta = (await imageTree(a, { ...opts, digests: true })).tree;
  const tb = (await imageTree(b, { ...opts, digests: true })).tree;
  const files: FileChange[] = [];
  for (const x of ta.list()) {
    const y = tb.get(x.path);
    if (!y) files.push({ path: shown(x.path), kind: 'D', before: state(x) });
    else {
      const f = fileFields(x, y);
      if (f.length) files.push({ path: shown(x.path), kind: 'C', before: state(x), after: state(y), fields: f });
    }
  }
  for (const y of tb.list()) if (!ta.get(y.path)) files.push({ path: shown(y.path), kind: 'A', after: state(y) });
  files.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
  const da = a.config.rootfs.diff_ids;
  const db = b.config.rootfs.diff_ids;
  const inB = new Set(db);
  const inA = new Set(da);
  const layers = {
    shared: da.filter((d) => inB.has(d)),
    onlyA: da.filter((d) => !inB.has(d)),
    onlyB: db.filter((d) => !inA.has(d)),
  };
  const config = diffConfigs(a.config, b.config);
  const count = (k: string) => files.filter((f) => f.kind === k).length;
  return {
    a: { image: a.image.descriptor.digest, config: a.image.manifest.config.digest },
    b: { image: b.image.descriptor.digest, config: b.image.manifest.config.digest },
    files,
    config,
    layers,
    summary: {
      added: count('A'),
      removed: count('D'),
      changed: count('C'),
      configChanges: config.length,
      sharedLayers: layers.shared.length,
    },
  };
}
