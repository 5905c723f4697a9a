/**
 * Test helper (not a test): small things many test files share, kept once: the kura CLI run as a
 * child process, the HTTP Basic credentials header, a hand-moved clock and podman/buildah store flags.
 * (Digests: `digestOf` from src/oci/digest.ts; temporary directories: `tempDirs` from ./tempdirs.ts.)
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { KURA_MAIN } from './kura-process.js';

/** What one run of the CLI did. */
export interface KuraRun {
  /** The exit code (1 when the process died by a signal). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface KuraRunOptions {
  /** The whole environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to the child's stdin, which is then closed (default: empty). */
  input?: string;
}

/** Options of runTool: runKura's, and a time limit (the child is killed and the run fails past it). */
export interface ToolRunOptions extends KuraRunOptions {
  timeoutMs?: number;
}

/** Runs any command and resolves with its exit code and output as text; never rejects (1 for a signal or timeout). */
export function runTool(cmd: string, args: string[], opts: ToolRunOptions = {}): Promise<KuraRun> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, cwd: opts.cwd, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 0 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err.code as number) : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin!.end(opts.input ?? '');
  });
}

/** Runs `kura ARGS` (the shipped bundle, KURA_MAIN) and resolves with its exit code and output; never rejects. */
export function runKura(args: string[], opts: KuraRunOptions = {}): Promise<KuraRun> {
  return runTool(process.execPath, [KURA_MAIN, ...args], opts);
}

/** A failed run of kuraOk: the message names the command; `code`, `stdout`, `stderr` as execFile's errors have them. */
export interface KuraError extends Error, KuraRun {}

/** Runs `kura ARGS` and rejects with a KuraError (naming the command, its exit code and output) unless it exits 0. */
export async function kuraOk(args: string[], opts: KuraRunOptions = {}): Promise<KuraRun> {
  const r = await runKura(args, opts);
  if (r.code !== 0) {
    const message = `kura ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`;
    throw Object.assign(new Error(message), r) as KuraError;
  }
  return r;
}

/** Runs `kura ARGS` expecting it to fail: resolves with the run (exit code, output); rejects if it exits 0. */
export async function kuraFails(args: string[], opts: KuraRunOptions = {}): Promise<KuraRun> {
  const r = await runKura(args, opts);
  if (r.code === 0) throw new Error(`kura ${args.join(' ')} should fail, but exited 0:\n${r.stdout}`);
  return r;
}

/** `kura(...args)` bound to one environment and directory: kuraOk (rejects unless exit 0) with these options. */
export function kuraRunner(opts: KuraRunOptions = {}): (...args: string[]) => Promise<KuraRun> {
  return (...args) => kuraOk(args, opts);
}

/** `kuraFails(...args)` bound to one environment and directory. */
export function kuraFailsRunner(opts: KuraRunOptions = {}): (...args: string[]) => Promise<KuraRun> {
  return (...args) => kuraFails(args, opts);
}

/** A clock a test moves by hand: pass `now` to a store or server; `advance` it instead of sleeping. */
export interface TestClock {
  now: () => number;
  /** Moves the clock `ms` forward. */
  advance(ms: number): void;
}

/** A TestClock starting at `start` (default: the real time now, so stamps stay plausible). */
export function testClock(start = Date.now()): TestClock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** A clock that runs with the real one, plus whatever `advance` added: for servers whose jobs must keep running. */
export function skewedClock(): TestClock {
  let skew = 0;
  return { now: () => Date.now() + skew, advance: (ms) => void (skew += ms) };
}

/** The `Authorization` value of HTTP Basic for `user` (password `USER-pw` unless given). */
export function basic(user: string, password = `${user}-pw`): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

/** Global flags giving podman (`podman: true`) or buildah a private vfs store under `dir`. */
export function containerStoreFlags(dir: string, podman: boolean): string[] {
  const flags = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs'];
  return podman
    ? [...flags, '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', '--tmpdir', join(dir, 'libpod-tmp')]
    : flags;
}
