/** The Dockerfile parser, as BuildKit reads the file: directives, comments, continuations, heredocs, flags, forms. */

/** A Dockerfile error at a place: "Dockerfile:3:1: unknown instruction FORM: expected one of …". */
export class DockerfileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
  }
}

export interface Heredoc {
  name: string;
  body: string;
  /** Unquoted delimiter: the body's variables are expanded (by the shell for RUN, by the builder for COPY). */
  expand: boolean;
}

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, … */
  cmd: string;
  /** The arguments after the flags, continuation lines joined (shell form text, or the JSON text). */
  args: string;
  /** The exec (JSON array) form, when the arguments are one. */
  json?: string[];
  /** `--name=value` flags before the arguments; a flag given without a value is "true". */
  flags: Map<string, string[]>;
  heredocs: Heredoc[];
  /** The instruction as written (continuations joined), for history entries and error messages. */
  original: string;
  line: number;
  column: number;
}

export interface Stage {
  /** The `AS name`, lower case. */
  name?: string;
  /** The image the stage starts from (a stage name, an image reference or `scratch`), variables not yet expanded. */
  base: string;
  from: Instruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  escape: string;
  /** The `# syntax=` directive: read and ignored (Kura builds with its own frontend). */
  syntax?: string;
  /** ARG instructions before the first FROM. */
  metaArgs: Instruction[];
  stages: Stage[];
}

export const INSTRUCTIONS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const; // prettier-ignore

/** The flags each instruction takes (BuildKit's), the repeatable ones marked with `*`. */
const FLAGS: Record<string, string[]> = {
  FROM: ['platform'],
  COPY: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude*'],
  ADD: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude*'],
  RUN: ['mount*', 'network', 'security'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

/** Instructions whose exec form is a JSON array. */
const JSON_FORMS = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME']);
const HEREDOC_FORMS = new Set(['RUN', 'COPY', 'ADD']);
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const HEREDOC = /<<(-?)\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;

interface Line {
  text: string;
  n: number;
}

/** Parses a Dockerfile's text; `file` names it in errors. */
export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const df: Dockerfile = { file, escape: '\\', metaArgs: [], stages: [] };
  let i = 0;
  // Directives: only at the very top, before any other comment, blank line or instruction.
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!.trim());
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (seen.has(key)) throw new DockerfileError(file, i + 1, 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`')
        throw new DockerfileError(file, i + 1, 1, `invalid escape token "${m[2]}": expected \\ or \``);
      df.escape = m[2];
    } else if (key === 'syntax') df.syntax = m[2];
  }
  const esc = df.escape;
  const err = (n: number, col: number, msg: string) => new DockerfileError(file, n, col, msg);
  while (i < lines.length) {
    const first = lines[i]!;
    const trimmed = first.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i++;
      continue;
    }
    const start: Line = { text: first, n: i + 1 };
    // A line ending in the escape character goes on; comment and blank lines inside are skipped.
    let joined = trimmed;
    i++;
    while (endsWithEscape(joined, esc) && i < lines.length) {
      joined = joined.trimEnd().slice(0, -1);
      const next = lines[i]!;
      i++;
      const t = next.trimStart();
      if (t.startsWith('#')) {
        joined += esc; // a comment line inside a continuation is dropped, the continuation goes on
        continue;
      }
      if (t === '') {
        joined += esc;
        continue;
      }
      joined += next;
    }
    if (endsWithEscape(joined, esc)) joined = joined.trimEnd().slice(0, -1);
    const col = first.length - trimmed.length + 1;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(joined)!;
    const cmd = m[1]!.toUpperCase();
    if (!(INSTRUCTIONS as readonly string[]).includes(cmd))
      throw err(start.n, col, `unknown instruction ${m[1]}: expected one of ${INSTRUCTIONS.join(', ')}`);
    const ins = parseInstruction(cmd, m[2]!, joined, start.n, col, esc, err);
    if (HEREDOC_FORMS.has(cmd) && !ins.json) {
      for (const h of [...ins.args.matchAll(HEREDOC)]) {
        const body: string[] = [];
        for (;;) {
          if (i >= lines.length)
            throw err(start.n, col, `unterminated heredoc ${h[3]}: expected a line "${h[3]}" to end it`);
          let l = lines[i++]!;
          if (h[1] === '-') l = l.replace(/^\t+/, '');
          if (l === h[3]) break;
          body.push(l);
        }
        ins.heredocs.push({ name: h[3]!, body: body.map((l) => `${l}\n`).join(''), expand: h[2] === '' });
      }
    }
    if (cmd === 'FROM') df.stages.push(parseFrom(ins, err));
    else if (df.stages.length === 0) {
      if (cmd !== 'ARG') throw err(start.n, col, `${cmd} before the first FROM: only ARG may come before FROM`);
      df.metaArgs.push(ins);
    } else df.stages.at(-1)!.instructions.push(ins);
  }
  if (df.stages.length === 0)
    throw err(lines.length, 1, 'the file has no FROM instruction: start a stage with FROM IMAGE');
  const names = new Set<string>();
  for (const s of df.stages) {
    if (!s.name) continue;
    if (names.has(s.name)) throw err(s.from.line, s.from.column, `duplicate stage name "${s.name}"`);
    names.add(s.name);
  }
  return df;
}

function endsWithEscape(s: string, esc: string): boolean {
  return s.trimEnd().endsWith(esc);
}

type ErrorAt = (line: number, col: number, msg: string) => DockerfileError;

function parseInstruction(
  cmd: string,
  rest: string,
  original: string,
  line: number,
  column: number,
  esc: string,
  err: ErrorAt,
): Instruction {
  const flags = new Map<string, string[]>();
  const allowed = FLAGS[cmd] ?? [];
  let args = rest;
  for (;;) {
    const f = /^--([A-Za-z][A-Za-z0-9-]*)(?:=((?:"[^"]*"|'[^']*'|\S)*))?(?:\s+|$)/.exec(args);
    if (!f) break;
    const name = f[1]!.toLowerCase();
    const spec = allowed.find((a) => a.replace('*', '') === name);
    if (!spec) {
      const list = allowed.length ? `: ${cmd} takes ${allowed.map((a) => `--${a.replace('*', '')}`).join(', ')}` : '';
      throw err(line, column + original.indexOf(f[0]), `unknown flag --${name} for ${cmd}${list}`);
    }
    const value = f[2] === undefined ? 'true' : f[2].replace(/^(["'])(.*)\1$/, '$2');
    if (flags.has(name) && !spec.endsWith('*'))
      throw err(line, column + original.indexOf(f[0]), `--${name} given twice for ${cmd}`);
    flags.set(name, [...(flags.get(name) ?? []), value]);
    args = args.slice(f[0].length);
  }
  args = args.trim();
  const ins: Instruction = { cmd, args, flags, heredocs: [], original, line, column };
  if (JSON_FORMS.has(cmd) && args.startsWith('[')) {
    try {
      const v = JSON.parse(args) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) ins.json = v as string[];
    } catch {
      // not JSON: BuildKit reads it as the shell form
    }
  }
  if (args === '' && !['CMD', 'ENTRYPOINT', 'RUN'].includes(cmd))
    throw err(line, column + cmd.length, `${cmd} requires at least one argument`);
  if (cmd === 'SHELL' && !ins.json) throw err(line, column, 'SHELL requires the arguments to be in JSON form');
  if (cmd === 'ONBUILD') {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(args)!;
    const inner = m[1]!.toUpperCase();
    if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(inner))
      throw err(line, column, `${inner} isn't allowed as an ONBUILD trigger`);
    if (!(INSTRUCTIONS as readonly string[]).includes(inner))
      throw err(line, column, `unknown instruction ${m[1]} in ONBUILD: expected one of ${INSTRUCTIONS.join(', ')}`);
    parseInstruction(inner, m[2]!, args, line, column, esc, err);
  }
  return ins;
}

function parseFrom(ins: Instruction, err: ErrorAt): Stage {
  const w = ins.args.split(/\s+/);
  if (w.length === 1) return { base: w[0]!, from: ins, instructions: [] };
  if (w.length === 3 && w[1]!.toUpperCase() === 'AS') {
    const name = w[2]!.toLowerCase();
    if (!/^[a-z][a-z0-9-_.]*$/.test(name))
      throw err(ins.line, ins.column, `invalid name for build stage "${w[2]}": it must start with a letter`);
    return { name, base: w[0]!, from: ins, instructions: [] };
  }
  throw err(ins.line, ins.column, `FROM takes IMAGE or IMAGE AS NAME, got "${ins.args}"`);
}
