/**
 * Test helper (not a test): runs a real `kura serve` child process, builds the
 * shared offline test images, and checks for external tools.
 *
 * Contract of `kura serve` relied on here: a human banner on STDERR containing
 * `listening on http://127.0.0.1:PORT`, JSON request logs on STDOUT.
 *
 * A server writes its stdout/stderr into files (see ChildLog); set KURA_TEST_LOGS=DIR to keep them in DIR.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { mkdtemp, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Repository root: this file is compiled to <repo>/dist/test/kura-process.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The CLI as shipped (package.json "bin"): the bundle scripts/bundle.mjs makes from dist/cli/. */
export const KURA_MAIN = join(REPO_ROOT, 'dist', 'bin', 'kura.js');
/** The same CLI as tsc wrote it, one module per source file: for checks of what each command loads. */
export const KURA_UNBUNDLED = join(REPO_ROOT, 'dist', 'cli', 'main.js');
export const MAKE_IMAGES_SCRIPT = join(REPO_ROOT, 'scripts', 'make-test-images.sh');

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const TAIL_BYTES = 16_384;
/** The port must be followed by a non-digit, so a chunk split inside the number cannot match early. */
const BANNER_RE = /listening on (https?:\/\/(127\.0\.0\.1:\d+))(?=\D)/;

export interface StartKuraOptions {
  dataDir?: string;
  args?: string[];
  env?: Record<string, string>;
}

export interface KuraProcess {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** e.g. 127.0.0.1:40123 — use it in full image names */
  host: string;
  dataDir: string;
  proc: ChildProcess;
  /** SIGTERM, then wait for exit (SIGKILL and throw after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL, then wait for exit. */
  kill(): Promise<void>;
  /** The last few KiB of the server's stdout and stderr, for assertion messages. */
  logs(): { stdout: string; stderr: string };
}

/**
 * A child's output, written by the child straight into a file, never into a pipe this process must drain:
 * a test that blocks its event loop (execFileSync of a CLI) would otherwise leave a full pipe, and a server
 * blocked writing its log stops answering (Distribution's logger did exactly that).
 */
export class ChildLog {
  readonly fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }
  /** The last `bytes` of the file as text. */
  tail(bytes = TAIL_BYTES): string {
    try {
      const size = statSync(this.path).size;
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      const fd = openSync(this.path, 'r');
      try {
        readSync(fd, buf, 0, buf.length, start);
      } finally {
        closeSync(fd);
      }
      return buf.toString('utf8');
    } catch {
      return '';
    }
  }
  /** Closes this process's copy of the descriptor (the child keeps its own). */
  close(): void {
    closeSync(this.fd);
  }
}

/** Where a child's output goes: a file in $KURA_TEST_LOGS when set (kept), else in `dir`. */
export function childLog(dir: string, name: string): ChildLog {
  return new ChildLog(join(process.env.KURA_TEST_LOGS ?? dir, name));
}

/** Every server still running, so that a crashed test file does not leak them. */
const live = new Set<ChildProcess>();
/**
 * Data directories startKura made itself: removed when the test file's process exits (not on stop(),
 * since tests restart a server on the same directory or inspect it after a kill).
 */
const madeDataDirs = new Set<string>();
let started = 0;
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
  for (const d of madeDataDirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
});

function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function waitExit(proc: ChildProcess): Promise<void> {
  if (exited(proc)) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

function describeFailure(why: string, argv: string[], out: ChildLog, err: ChildLog): Error {
  return new Error(
    `kura serve did not start: ${why}\n  command: ${argv.join(' ')}\n` +
      `--- stderr (tail) ---\n${err.tail()}\n--- stdout (tail) ---\n${out.tail()}`,
  );
}

/** Resolves with the banner's URL once STDERR shows it; rejects on exit or timeout. */
function waitForBanner(
  proc: ChildProcess,
  argv: string[],
  out: ChildLog,
  err: ChildLog,
): Promise<{ url: string; host: string }> {
  return new Promise((resolve, reject) => {
    const done = (e?: Error, v?: { url: string; host: string }): void => {
      clearTimeout(timer);
      clearInterval(poll);
      proc.off('exit', onExit);
      proc.off('error', onError);
      if (e) reject(e);
      else resolve(v!);
    };
    const look = (): boolean => {
      const m = BANNER_RE.exec(err.tail(4096));
      if (m) done(undefined, { url: m[1]!, host: m[2]! });
      return m !== null;
    };
    const onExit = (code: number | null, signal: string | null): void => {
      if (!look()) done(describeFailure(`exited early (code ${code}, signal ${signal})`, argv, out, err));
    };
    const onError = (e: Error): void => done(describeFailure(`spawn failed: ${e.message}`, argv, out, err));
    const poll = setInterval(look, 20);
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      done(
        describeFailure(
          `no "listening on http://127.0.0.1:PORT" on stderr within ${START_TIMEOUT_MS} ms`,
          argv,
          out,
          err,
        ),
      );
    }, START_TIMEOUT_MS);
    proc.once('exit', onExit);
    proc.once('error', onError);
  });
}

/** Starts `kura serve` on a free loopback port and waits until it is listening. */
export async function startKura(opts: StartKuraOptions = {}): Promise<KuraProcess> {
  let dataDir = opts.dataDir;
  if (dataDir === undefined) madeDataDirs.add((dataDir = await mkdtemp(join(tmpdir(), 'kura-data-'))));
  await mkdir(dataDir, { recursive: true });
  const argv = [KURA_MAIN, 'serve', '--listen', '127.0.0.1:0', '--data', dataDir, ...(opts.args ?? [])];
  const logs = await mkdtemp(join(tmpdir(), 'kura-logs-'));
  madeDataDirs.add(logs);
  const stamp = `kura-${process.pid}-${++started}`;
  const out = childLog(logs, `${stamp}.stdout.log`);
  const err = childLog(logs, `${stamp}.stderr.log`);
  const proc = spawn(process.execPath, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', out.fd, err.fd],
  });
  out.close();
  err.close();
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const { url, host } = await waitForBanner(proc, [process.execPath, ...argv], out, err);
  return {
    url,
    host,
    dataDir,
    proc,
    stop: () => stopProcess(proc),
    kill: async () => {
      if (!exited(proc)) proc.kill('SIGKILL');
      await waitExit(proc);
    },
    logs: () => ({ stdout: out.tail(), stderr: err.tail() }),
  };
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (exited(proc)) return;
  proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
  });
  const late = await Promise.race([waitExit(proc).then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    proc.kill('SIGKILL');
    await waitExit(proc);
    throw new Error(`kura serve (pid ${proc.pid}) did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`);
  }
}

/** True if an executable called `name` is on PATH. */
export function hasTool(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

let imagesPromise: Promise<string> | undefined;

/**
 * Builds the offline test images (scripts/make-test-images.sh) once into a cache
 * directory keyed by the script's content, and returns that directory. The script
 * itself is idempotent and locks, so concurrent test files share one build.
 */
export function makeTestImages(): Promise<string> {
  imagesPromise ??= buildTestImages();
  return imagesPromise;
}

async function buildTestImages(): Promise<string> {
  const key = createHash('sha256').update(readFileSync(MAKE_IMAGES_SCRIPT)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `kura-test-images-${key}`);
  try {
    await execFileP('bash', [MAKE_IMAGES_SCRIPT, dir], { timeout: 180_000, maxBuffer: 16 << 20 });
  } catch (e) {
    const x = e as { stderr?: string; message: string };
    throw new Error(`make-test-images.sh failed: ${x.message}\n${x.stderr ?? ''}`);
  }
  return dir;
}

/** One row of images.tsv. */
export interface TestImage {
  name: string;
  ociRef: string;
  /** The image's OCI layout directory. */
  layout: string;
  tag: string;
  digest: string;
  mediaType: string;
  layers: string;
  bytes: number;
  /** docker-archive tarball, for the single-platform images that have one. */
  dockerArchive?: string;
}

/** Parses OUTDIR/images.tsv into a map by image name. */
export async function loadTestImages(dir: string): Promise<Map<string, TestImage>> {
  const rows = (await readFile(join(dir, 'images.tsv'), 'utf8')).trim().split('\n').slice(1);
  const images = new Map<string, TestImage>();
  for (const row of rows) {
    const [name, ociRef, tag, digest, mediaType, layers, bytes] = row.split('\t') as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const archive = join(dir, 'docker-archive', `${name}.tar`);
    images.set(name, {
      name,
      ociRef,
      layout: join(dir, 'oci', name),
      tag,
      digest,
      mediaType,
      layers,
      bytes: Number(bytes),
      dockerArchive: hasFile(archive) ? archive : undefined,
    });
  }
  return images;
}

function hasFile(path: string): boolean {
  try {
    accessSync(path, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}
