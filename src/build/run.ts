/** RUN: a command in an isolated container made from the stage's rootfs, with the OCI runtime (runc or crun). */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveIn } from './copy.js';
import { insidePath } from './rootfs.js';

export class RunError extends Error {}

/** A bind mount of a RUN: a cache directory, a secret file, or a directory of the context or another stage. */
export interface RunMount {
  source: string;
  target: string;
  readonly: boolean;
  file: boolean;
}

export interface RunSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  mounts: RunMount[];
  /** The image's architecture (GOARCH names), to refuse a foreign one without binfmt. */
  architecture: string;
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
Object.assign(GOARCH, { ia32: '386', riscv64: 'riscv64', loong64: 'loong64' });
/** The names qemu-user-static registers its binfmt_misc handlers under (qemu-NAME), by GOARCH. */
const QEMU: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64', arm: 'arm', ppc64le: 'ppc64le' };
Object.assign(QEMU, { s390x: 's390x', '386': 'i386', riscv64: 'riscv64', loong64: 'loongarch64' });
Object.assign(QEMU, { mips64le: 'mips64el' });

/** The runtime to use, or an error saying why none can run here and how to fix it. */
export function findRuntime(architecture: string): string {
  const runtime = ['runc', 'crun'].find((r) => spawnSync(r, ['--version'], { stdio: 'ignore' }).status === 0);
  if (!runtime) throw new RunError('RUN needs an OCI runtime and none was found: install runc (apt-get install runc)');
  if (process.getuid?.() !== 0)
    throw new RunError(
      'RUN needs root here: kura build runs its containers as root (rootless user namespaces are not supported yet); ' +
        'run kura build as root, or build without RUN',
    );
  const host = GOARCH[process.arch] ?? process.arch;
  if (architecture !== host) {
    const why = noEmulator(architecture);
    if (why)
      throw new RunError(
        `RUN cannot run ${architecture} programs on this ${host} machine: ${why}, or build on a native ` +
          `linux/${architecture} runner (or for linux/${host})`,
      );
  }
  return runtime;
}

/**
 * Why this kernel cannot run `architecture`'s programs in a container (with the fix), or undefined when a
 * binfmt_misc handler (qemu-user-static's) is registered, enabled and fix-binary (F: the emulator is opened when it
 * is registered, so it is found from inside the container's root). KURA_BINFMT_MISC names another directory than
 * /proc/sys/fs/binfmt_misc (for tests and diagnosis).
 */
function noEmulator(architecture: string): string | undefined {
  const dir = process.env.KURA_BINFMT_MISC || '/proc/sys/fs/binfmt_misc';
  const install = 'install qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support)';
  if (!existsSync(join(dir, 'status')))
    return (
      `binfmt_misc is not mounted at ${dir}, so no emulator can be registered; mount it ` +
      `(mount -t binfmt_misc binfmt_misc ${dir}) and ${install}`
    );
  const name = `qemu-${QEMU[architecture] ?? architecture}`;
  let handler: string;
  try {
    handler = readFileSync(join(dir, name), 'utf8');
  } catch {
    return `no emulator is registered for ${architecture} (no binfmt_misc handler ${name}); ${install}`;
  }
  if (!/^enabled$/m.test(handler) || !/^enabled$/m.test(readFileSync(join(dir, 'status'), 'utf8')))
    return `the binfmt_misc handler ${name} is disabled; enable it (update-binfmts --enable ${name})`;
  if (!/^flags:.*F/m.test(handler))
    return (
      `the binfmt_misc handler ${name} lacks the F (fix-binary) flag, so its emulator cannot be found inside the ` +
      `build container; register it with F (Debian's qemu-user-static does: reinstall it)`
    );
  return undefined;
}

function bundleConfig(rootfs: string, spec: RunSpec): object {
  const caps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID'];
  const allCaps = [...caps, 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_SETFCAP', 'CAP_MKNOD'];
  const dev = (destination: string, type: string, source: string, options: string[]) => ({
    destination,
    type,
    source,
    options,
  });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: spec.uid, gid: spec.gid },
      args: spec.args,
      env: spec.env,
      cwd: spec.cwd,
      capabilities: { bounding: allCaps, effective: allCaps, permitted: allCaps },
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: false },
    hostname: 'buildkitsandbox',
    mounts: [
      dev('/proc', 'proc', 'proc', []),
      dev('/dev', 'tmpfs', 'tmpfs', ['nosuid', 'strictatime', 'mode=755', 'size=65536k']),
      dev('/dev/pts', 'devpts', 'devpts', ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620']),
      dev('/dev/shm', 'tmpfs', 'shm', ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k']),
      dev('/sys', 'sysfs', 'sysfs', ['nosuid', 'noexec', 'nodev', 'ro']),
      ...spec.mounts.map((m) => dev(m.target, 'bind', m.source, ['rbind', m.readonly ? 'ro' : 'rw'])),
    ],
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** prctl(2)'s syscall number by Node's process.arch, for PR_SET_CHILD_SUBREAPER in the reaper below. */
const PRCTL: Record<string, number> = { x64: 157, arm64: 167, riscv64: 167, loong64: 167, arm: 172, ia32: 172 };
Object.assign(PRCTL, { ppc64: 171, s390x: 172 });

/**
 * The reaper (Perl: Debian's perl-base is Essential, so it is there wherever runc is): it becomes a child subreaper,
 * runs `runc run --detach` with its stdout as both stdout and stderr (so the container's fds 1 and 2 are one pipe and
 * what it writes keeps its order, as BuildKit's single stream), then waits for the container's process, which is
 * re-parented to it when runc exits, and exits with that process's exit code (128+N for a signal).
 */
const REAPER = `
my ($nr, $pidfile, @cmd) = @ARGV;
syscall($nr, 36, 1, 0, 0, 0) == 0 or die "kura: prctl(PR_SET_CHILD_SUBREAPER): $!\\n";
my $runc = fork() // die "kura: fork: $!\\n";
if ($runc == 0) { open(STDERR, ">&STDOUT") or die "kura: dup: $!\\n"; exec(@cmd) or exit 127; }
waitpid($runc, 0);
exit(($? >> 8) || 1) if $? != 0;
open(my $f, "<", $pidfile) or die "kura: runc wrote no pid file: $!\\n";
my $pid = <$f> + 0;
my $code = 1;
while ((my $p = wait()) > 0) { $code = ($? & 127) ? 128 + ($? & 127) : $? >> 8 if $p == $pid; }
exit($code);
`;

/** Keeps the last lines of a stream and hands on each whole line as it comes (a long partial one in pieces). */
class LineTail {
  readonly lines: string[] = [];
  private partial = '';
  constructor(private readonly onLine?: (line: string) => void) {}
  take(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop()!;
    if (this.partial.length > 8192)
      (parts.push(this.partial.slice(0, 8192)), (this.partial = this.partial.slice(8192)));
    for (const l of parts) this.line(l.replace(/\r$/, ''));
  }
  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }
  private line(l: string): void {
    this.onLine?.(l);
    this.lines.push(l);
    if (this.lines.length > 200) this.lines.splice(0, this.lines.length - 200);
  }
}

/**
 * Runs `spec` in a container over `rootfs` (changes land in it), with the runtime's mount points (and those of
 * the RUN's mounts) removed afterwards when they were not there before, so that they do not enter the layer.
 * The container's stdout and stderr are one pipe; `onLine` sees each line of it as it comes, in the order written.
 * Resolves with the exit code and the last lines of output.
 */
export async function runContainer(
  rootfs: string,
  spec: RunSpec,
  onLine?: (line: string) => void,
): Promise<{ code: number; tail: string[] }> {
  const runtime = findRuntime(spec.architecture);
  const made: string[] = [];
  const mkpoint = async (rel: string, file: boolean) => {
    const parts = insidePath(rel).split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (await lstat(join(rootfs, p)).catch(() => undefined)) continue;
      if (i === parts.length && file) await writeFile(join(rootfs, p), '');
      else await mkdir(join(rootfs, p));
      made.push(p);
    }
  };
  for (const p of ['proc', 'dev', 'sys']) await mkpoint(p, false);
  const mounts: RunMount[] = [];
  for (const m of spec.mounts) {
    const target = await resolveIn(rootfs, m.target);
    await mkpoint(target, m.file);
    mounts.push({ ...m, target: `/${target}` });
  }
  await mkpoint(await resolveIn(rootfs, spec.cwd), false);
  const bundle = await mkdtemp(join(tmpdir(), 'kura-run-'));
  const id = `kura-build-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(join(bundle, 'config.json'), JSON.stringify(bundleConfig(rootfs, { ...spec, mounts })));
    const out = new LineTail(onLine);
    const errors = new LineTail();
    const nr = PRCTL[process.arch];
    const pid = join(bundle, 'pid');
    const run = [runtime, 'run', '--bundle', bundle];
    // without a known prctl number (or perl), runc in the foreground: its two pipes, the order between them lost
    const [cmd, args] =
      nr !== undefined && hasPerl()
        ? ['perl', ['-e', REAPER, String(nr), pid, ...run, '--detach', '--pid-file', pid, id]]
        : [runtime, [...run.slice(1), id]];
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (c: Buffer) => out.take(c));
      child.stderr.on('data', (c: Buffer) => (cmd === 'perl' ? errors : out).take(c));
      child.on('error', reject);
      child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
    });
    out.end();
    errors.end();
    if (errors.lines.length) throw new RunError(`RUN could not be started: ${errors.lines.join('; ')}`);
    return { code, tail: out.lines.slice(-10) };
  } finally {
    spawnSync(runtime, ['delete', '--force', id], { stdio: 'ignore' });
    await rm(bundle, { recursive: true, force: true });
    for (const p of made.reverse()) {
      const st = await lstat(join(rootfs, p)).catch(() => undefined);
      if (st?.isDirectory()) await rmdir(join(rootfs, p)).catch(() => undefined);
      else if (st?.isFile() && st.size === 0) await rm(join(rootfs, p));
    }
  }
}

let perl: boolean | undefined;
function hasPerl(): boolean {
  perl ??= spawnSync('perl', ['-e', '1'], { stdio: 'ignore' }).status === 0;
  return perl;
}

/**
 * A user of the image (`USER`, `--chown`: NAME[:GROUP] or ids) as numeric ids from its /etc/passwd and /etc/group.
 * Without a group, USER takes the user's primary group; `--chown` (`chown`) the user's id, as Docker documents.
 */
export async function userIds(rootfs: string, user: string, chown = false): Promise<{ uid: number; gid: number }> {
  if (!user) return { uid: 0, gid: 0 };
  const [u, g] = user.split(':') as [string, string | undefined];
  const rows = async (f: string) =>
    (await readFile(join(rootfs, 'etc', f), 'utf8').catch(() => ''))
      .split('\n')
      .map((l) => l.split(':'))
      .filter((r) => r.length > 3);
  const passwd = await rows('passwd');
  const row = passwd.find((r) => r[0] === u || (/^\d+$/.test(u) && r[2] === u));
  if (!row && !/^\d+$/.test(u)) throw new RunError(`unable to find user ${u}: no matching entries in /etc/passwd`);
  const uid = row ? Number(row[2]) : Number(u);
  if (g === undefined) return { uid, gid: chown ? uid : row ? Number(row[3]) : 0 };
  if (/^\d+$/.test(g)) return { uid, gid: Number(g) };
  const grow = (await rows('group')).find((r) => r[0] === g);
  if (!grow) throw new RunError(`unable to find group ${g}: no matching entries in /etc/group`);
  return { uid, gid: Number(grow[2]) };
}
