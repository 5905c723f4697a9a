/** .dockerignore as Docker reads it (moby/patternmatcher): cleaned patterns, `**`, `!` exceptions, parents matching. */
import { posix } from 'node:path';

interface Pattern {
  text: string;
  exclusion: boolean;
  re: RegExp;
}

/** The lines of a .dockerignore file as patterns (comments and blank lines dropped, each cleaned as Docker does). */
export function readIgnoreFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = posix.normalize(p);
      if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
      if (p.startsWith('./')) p = p.slice(2);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

/** A Go filepath.Match pattern (with `**`) as a regular expression anchored on both ends. */
function compile(p: string): RegExp {
  let re = '^';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') {
      if (p[i + 1] === '*') {
        i++;
        if (p[i + 1] === '/') i++; // "**/" is read as "**"
        if (i + 1 >= p.length) re += '.*';
        else re += '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < p.length) re += escapeRe(p[++i]!);
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) throw new Error(`.dockerignore pattern "${p}" has "[" without "]"`);
      let cls = p.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `\\^${cls.slice(1)}`;
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\(?!.)/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`, 's');
}

function escapeRe(c: string): string {
  return /[.*?+^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** Decides which context paths a .dockerignore excludes. */
export class IgnoreMatcher {
  readonly patterns: Pattern[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((text) => {
      const exclusion = text.startsWith('!');
      const body = exclusion ? text.slice(1) : text;
      if (body === '') throw new Error(`.dockerignore: illegal exclusion pattern "!"`);
      return { text, exclusion, re: compile(body) };
    });
  }

  /** Whether the patterns have exceptions (then an excluded directory must still be walked). */
  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** Whether `path` (relative, slash-separated) is excluded: the last pattern matching it or a parent decides. */
  excludes(path: string): boolean {
    const file = posix.normalize(path).replace(/^\.\//, '');
    const parts = file.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let m = p.re.test(file);
      for (let i = 1; !m && i < parts.length; i++) m = p.re.test(parts.slice(0, i).join('/'));
      if (m) matched = !p.exclusion;
    }
    return matched;
  }
}
