/** Test helper (not a test) for kura build's tests: a busybox base rootfs made offline and build contexts. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDockerfile } from '../build/dockerfile.js';
import type { BuildInput } from '../build/state.js';
import { parsePlatform } from '../oci/platform.js';

export const BUSYBOX = '/bin/busybox';
export const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
/** Why kura build's RUN tests cannot run here, or false. */
export const buildSkip = !existsSync(BUSYBOX)
  ? 'needs Debian busybox-static (/bin/busybox): apt-get install busybox-static (.ci/run installs it)'
  : process.getuid?.() !== 0 || !has('runc')
    ? 'needs root and runc (RUN steps run in runc): run as root with runc installed, as .ci/run does'
    : false;

/** A busybox root filesystem with users, as `dir/base.tar`. */
export function makeBase(dir: string): void {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'root']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const c of ['sh', 'echo', 'cat', 'rm', 'mkdir', 'touch', 'chmod', 'ln', 'date', 'test', 'ls', 'false'])
    symlinkSync('busybox', join(root, 'bin', c));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
  writeFileSync(join(root, 'etc/old'), 'to be deleted\n');
  chmodSync(join(root, 'tmp'), 0o1777);
  assert.equal(spawnSync('tar', ['-C', root, '-cf', join(dir, 'base.tar'), '.']).status, 0);
}

/** Writes `files` (path → content) under `dir` and returns it. */
export function writeContext(dir: string, files: Record<string, string>): string {
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), body);
  }
  return dir;
}

/** A JSON blob of an OCI layout by digest. */
export function layoutBlob<T>(dir: string, digest: string): T {
  return JSON.parse(readFileSync(join(dir, 'blobs', ...digest.split(':')), 'utf8')) as T;
}

interface Desc {
  digest: string;
  mediaType: string;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

/** The manifest (image or index) an OCI layout's index.json names with `tag`. */
export function layoutTop(dir: string, tag: string): Desc {
  const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Desc[] };
  const d = idx.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(d, `no ${tag} in ${dir}/index.json`);
  return d;
}

/** The image config of an image manifest in an OCI layout. */
export function layoutConfig(dir: string, manifest: string): Record<string, unknown> {
  return layoutBlob<Record<string, unknown>>(
    dir,
    layoutBlob<{ config: { digest: string } }>(dir, manifest).config.digest,
  );
}

/** A build of `text` in `context` with the cache in `cacheDir`, reproducible (SOURCE_DATE_EPOCH 1700000000). */
export function buildInput(
  text: string,
  context: string,
  cacheDir?: string,
  more: Partial<BuildInput> = {},
): BuildInput {
  return {
    dockerfile: parseDockerfile(text),
    context,
    buildArgs: new Map(),
    platform: parsePlatform('linux/amd64'),
    labels: {},
    epoch: 1_700_000_000,
    secrets: new Map(),
    ...(cacheDir ? { cacheDir } : {}),
    openImage: () => Promise.reject(new Error('no images in this test')),
    ...more,
  };
}
