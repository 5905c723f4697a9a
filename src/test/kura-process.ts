/**
 * Test helper (not a test): runs a real `kura serve` child process, builds the
 * shared offline test images, and checks for external tools.
 *
 * Contract of `kura serve` relied on here: a human banner on STDERR containing
 * `listening on http://127.0.0.1:PORT`, JSON request logs on STDOUT.
 *
 * Set KURA_TEST_LOGS=DIR to append every server's stdout/stderr to files in DIR.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants as fsConstants,
  createWriteStream,
  readFileSync,
  rmSync,
  type WriteStream,
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

/** A bounded text buffer that keeps only the last `max` characters. */
class Tail {
  private text = '';
  constructor(private readonly max: number) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max) this.text = this.text.slice(-this.max);
  }
  toString(): string {
    return this.text;
  }
}

/** Every server still running, so that a crashed test file does not leak them. */
const live = new Set<ChildProcess>();
/**
 * Data directories startKura made itself: removed when the test file's process exits (not on stop(),
 * since tests restart a server on the same directory or inspect it after a kill).
 */
const madeDataDirs = new Set<string>();
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

function logFile(name: string): WriteStream | undefined {
  const dir = process.env.KURA_TEST_LOGS;
  return dir ? createWriteStream(join(dir, name), { flags: 'a' }) : undefined;
}

function describeFailure(why: string, argv: string[], out: Tail, err: Tail): Error {
  return new Error(
    `kura serve did not start: ${why}\n  command: ${argv.join(' ')}\n` +
      `--- stderr (tail) ---\n${err.toString()}\n--- stdout (tail) ---\n${out.toString()}`,
  );
}

/** Resolves with the banner's URL once STDERR shows it; rejects on exit or timeout. */
function waitForBanner(
  proc: ChildProcess,
  argv: string[],
  out: Tail,
  err: Tail,
): Promise<{ url: string; host: string }> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const done = (e?: Error, v?: { url: string; host: string }): void => {
      clearTimeout(timer);
      proc.stderr!.off('data', onData);
      proc.off('close', onClose);
      proc.off('error', onError);
      if (e) reject(e);
      else resolve(v!);
    };
    const onData = (chunk: string): void => {
      seen = (seen + chunk).slice(-4096);
      const m = BANNER_RE.exec(seen);
      if (m) done(undefined, { url: m[1]!, host: m[2]! });
    };
    // 'close', not 'exit': by then the stdio pipes are drained, so the tails are complete
    const onClose = (code: number | null, signal: string | null): void =>
      done(describeFailure(`exited early (code ${code}, signal ${signal})`, argv, out, err));
    const onError = (e: Error): void => done(describeFailure(`spawn failed: ${e.message}`, argv, out, err));
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
    proc.stderr!.on('data', onData);
    proc.once('close', onClose);
    proc.once('error', onError);
  });
}

/** Drains a child's output stream into a tail buffer (and an optional log file). */
function capture(stream: NodeJS.ReadableStream, tail: Tail, file: WriteStream | undefined): void {
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    tail.push(chunk);
    file?.write(chunk);
  });
  stream.on('end', () => file?.end());
}

/** Starts `kura serve` on a free loopback port and waits until it is listening. */
export async function startKura(opts: StartKuraOptions = {}): Promise<KuraProcess> {
  let dataDir = opts.dataDir;
  if (dataDir === undefined) madeDataDirs.add((dataDir = await mkdtemp(join(tmpdir(), 'kura-data-'))));
  await mkdir(dataDir, { recursive: true });
  const argv = [KURA_MAIN, 'serve', '--listen', '127.0.0.1:0', '--data', dataDir, ...(opts.args ?? [])];
  const proc = spawn(process.execPath, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const out = new Tail(TAIL_BYTES);
  const err = new Tail(TAIL_BYTES);
  const stamp = `kura-${process.pid}-${proc.pid ?? 'x'}`;
  capture(proc.stdout!, out, logFile(`${stamp}.stdout.log`));
  capture(proc.stderr!, err, logFile(`${stamp}.stderr.log`));
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
    logs: () => ({ stdout: out.toString(), stderr: err.toString() }),
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
