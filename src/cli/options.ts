/** The option groups commands share, declared once: registry flags and output flags, and how a result is printed. */
import { Option, type Command } from 'commander';

/** Collects a repeated option (`--registry-mirror a --registry-mirror b`). */
export const collect = (v: string, acc: string[] = []) => [...acc, v];

/** The values of the registry flags, as commander parses them. */
export interface RegistryFlags {
  /** `--creds USER:PASSWORD` (else the stored credentials). */
  creds?: string;
  plainHttp?: boolean;
  /** HTTPS accepting self-signed or unknown certificates. */
  insecure?: boolean;
  /** `--ca-file`: a PEM CA to trust, besides the system's and certs.d's. */
  caFile?: string;
  /** `--registry-mirror` values (Docker Hub reads only). */
  registryMirror?: string[];
}

/** Which registry flags a command takes, and what its `--creds` are for. */
export interface RegistryFlagChoice {
  /** The help of `--creds`; false: no `--creds` (login has -u/-p, copy --src-creds/--dest-creds). */
  creds?: string | false;
  /** `--plain-http` (default true; `--server` URLs say http:// instead). */
  plainHttp?: boolean;
  /** `--ca-file` (default true). */
  caFile?: boolean;
  /** `--registry-mirror` (default true; only commands that read Docker Hub take it). */
  mirror?: boolean;
}

export const CREDS_HELP = 'credentials for the registry (default: kura login, docker login)';

/**
 * The registry flags of every command that talks to a registry: `--creds USER:PASSWORD`,
 * `--plain-http`, `--insecure`, `--ca-file FILE` and, where Docker Hub is read, `--registry-mirror
 * URL` (repeatable). One wording for each, whatever the command.
 */
export function registryFlags(cmd: Command, o: RegistryFlagChoice = {}): Command {
  if (o.creds !== false) cmd.option('--creds <user:password>', o.creds ?? CREDS_HELP);
  if (o.plainHttp !== false) cmd.option('--plain-http', 'talk plain HTTP to a registry that is not on localhost');
  cmd.option('--insecure', 'talk HTTPS to registries with self-signed or unknown certificates (no verification)');
  if (o.caFile !== false) {
    const help = "trust this PEM CA certificate for the registry (besides the system's, and certs.d/HOST/*.crt)";
    cmd.option('--ca-file <file>', help);
  }
  if (o.mirror !== false) {
    const help = 'Docker Hub mirror to read from first (repeatable; default: KURA_REGISTRY_MIRRORS, then daemon.json)';
    cmd.option('--registry-mirror <url>', help, collect, []);
  }
  return cmd;
}

/** What the registry flags ask of a location (the fields of LocationOptions they set). */
export interface RegistryAccess {
  creds?: string;
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string;
  registryMirrors?: string[];
}

/** The location options the registry flags stand for. */
export function locationOptions(o: RegistryFlags): RegistryAccess {
  const { creds, plainHttp, insecure, caFile } = o;
  return { creds, plainHttp, insecure, caFile, registryMirrors: o.registryMirror };
}

/** The values of the output flags. */
export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
}

/**
 * `--json` and, when a help is given for it, `-q, --quiet`. Commands that report progress print
 * NDJSON events and a result line with `--json` (see emitResult); others print their result as JSON.
 */
export function outputFlags(cmd: Command, help: { json?: string; quiet?: string } = {}): Command {
  cmd.addOption(jsonFlag(help.json));
  if (help.quiet) cmd.option('-q, --quiet', help.quiet);
  return cmd;
}

/** `--json`, for a command chain that cannot go through outputFlags: `.addOption(jsonFlag('the plan as JSON'))`. */
export function jsonFlag(help = 'print the result as JSON'): Option {
  return new Option('--json', help);
}

/** The `--json` help of commands that report progress. */
export const NDJSON_HELP = 'NDJSON progress events and result on stdout';

/**
 * A command's result on stdout: with `--json` one NDJSON line `{"event":"result", …}` (after the
 * progress events), else `text` as a line (nothing when text is undefined).
 */
export function emitResult(o: { json?: boolean }, result: Record<string, unknown>, text?: string): void {
  if (o.json) process.stdout.write(JSON.stringify({ event: 'result', ...result }) + '\n');
  else if (text !== undefined) process.stdout.write(text + '\n');
}

/** Standard input as text, without its last line break (`--password-stdin`). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
