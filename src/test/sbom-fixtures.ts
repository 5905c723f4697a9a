import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

/** One layer's entries: path → bytes (a file), `null` (a whiteout of that path), or { mode, data }. */
export type LayerSpec = Record<string, Buffer | string | null | { mode: number; data: Buffer }>;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function tarOf(layer: LayerSpec): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const [path, v] of Object.entries(layer).sort(([a], [b]) => a.localeCompare(b))) {
    if (v === null) {
      const i = path.lastIndexOf('/');
      p.entry({ name: `${path.slice(0, i + 1)}.wh.${path.slice(i + 1)}`, size: 0 }, '');
      continue;
    }
    const data = typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : v.data;
    const mode = typeof v === 'object' && !Buffer.isBuffer(v) && v !== null ? v.mode : 0o644;
    p.entry({ name: path, size: data.length, mode }, data);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Writes an OCI layout at `dir` holding one linux image (tag `tag`) of gzip layers made from the specs,
 * bottom first. Returns the image manifest's digest.
 */
export async function writeLayoutImage(dir: string, tag: string, layers: LayerSpec[], arch = 'amd64'): Promise<string> {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const d = sha(b);
    writeFileSync(join(dir, 'blobs', 'sha256', d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const tars = await Promise.all(layers.map(tarOf));
  const layerDescs = tars.map((t) => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    ...put(gzipSync(t)),
  }));
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: tars.map((t) => `sha256:${sha(t)}`) },
      config: {},
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
      layers: layerDescs,
    }),
  );
  const m = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const indexPath = join(dir, 'index.json');
  const index = existsSync(indexPath)
    ? (JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests: object[] })
    : { schemaVersion: 2, manifests: [] as object[] };
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...m,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  });
  writeFileSync(indexPath, JSON.stringify(index));
  return m.digest;
}

/** This machine's real dpkg status file split in two: the first `n` stanzas, and all of them. */
export function realDpkgStatus(n: number): { first: string; all: string } {
  const all = readFileSync('/var/lib/dpkg/status', 'utf8');
  const stanzas = all.split(/\n\n+/).filter((s) => s.trim());
  return { first: stanzas.slice(0, n).join('\n\n') + '\n', all };
}

/** The real machine-readable copyright files of some installed packages, as layer entries. */
export function realCopyrights(names: string[]): LayerSpec {
  const out: LayerSpec = {};
  for (const n of names) {
    const p = `/usr/share/doc/${n}/copyright`;
    if (existsSync(p)) out[`usr/share/doc/${n}/copyright`] = readFileSync(realpathSync(p));
  }
  return out;
}

/** Every file under `dir` as layer entries under `prefix`. */
export function treeEntries(dir: string, prefix: string): LayerSpec {
  const out: LayerSpec = {};
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p, `${rel}/${name}`);
      else if (st.isFile()) out[`${prefix}${rel}/${name}`] = readFileSync(p);
    }
  };
  walk(dir, '');
  return out;
}

/**
 * A copy of some of this checkout's installed npm packages (with everything they need) into `dest/node_modules`, with a
 * package.json naming them.
 */
export function copyNodeModules(repoRoot: string, names: string[], dest: string): void {
  const seen = new Set<string>();
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    const src = join(repoRoot, 'node_modules', n);
    cpSync(src, join(dest, 'node_modules', n), { recursive: true, dereference: true });
    const pj = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const d of Object.keys(pj.dependencies ?? {}))
      if (existsSync(join(repoRoot, 'node_modules', d)) && !existsSync(join(src, 'node_modules', d))) visit(d);
  };
  for (const n of names) visit(n);
  writeFileSync(
    join(dest, 'package.json'),
    JSON.stringify({
      name: 'fixture-app',
      version: '1.0.0',
      private: true,
      dependencies: Object.fromEntries(names.map((n) => [n, '*'])),
    }),
  );
}

/** Installed packages by `dpkg-query --admindir` on a status file (ground truth from dpkg itself). */
export function dpkgQuery(status: string): Map<string, string> {
  const admin = join(status, '..');
  const out = execFileSync(
    'dpkg-query',
    [`--admindir=${admin}`, '-W', '-f', '${db:Status-Status}\t${Package}\t${Version}\n'],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [state, name, version] = line.split('\t');
    if (state === 'installed' && name) m.set(name, version!);
  }
  return m;
}

/** A blob written into a layout; its descriptor. */
export function putBlob(
  dir: string,
  mediaType: string,
  data: Buffer,
  extra: object = {},
): { mediaType: string; digest: string; size: number } {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const d = sha(data);
  writeFileSync(join(dir, 'blobs', 'sha256', d), data);
  return { mediaType, digest: `sha256:${d}`, size: data.length, ...extra };
}

/** Replaces the layout's index.json entry `tag` with an image index of the given entries. */
export function tagIndex(dir: string, tag: string, entries: object[]): string {
  const idx = putBlob(
    dir,
    'application/vnd.oci.image.index.v1+json',
    Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }),
    ),
  );
  const indexPath = join(dir, 'index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  index.manifests.push({ ...idx, annotations: { 'org.opencontainers.image.ref.name': tag } });
  writeFileSync(indexPath, JSON.stringify(index));
  return idx.digest;
}
