/** Dockerfile words as BuildKit's shell lexer reads them: quotes, the escape character, $VAR and ${VAR…} forms. */

/** A word could not be read (an unclosed quote or brace, a `${VAR:?message}` with VAR unset). */
export class LexError extends Error {}

export type Vars = ReadonlyMap<string, string>;

interface Out {
  text: string;
  /** The variables the word read (for warnings and the cache key). */
  used: Set<string>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

class Lexer {
  i = 0;
  constructor(
    readonly s: string,
    readonly vars: Vars,
    readonly escape: string,
    readonly used: Set<string>,
  ) {}

  /** Reads until `stop` (a closing brace of a ${…} word) or the end; quotes removed, variables expanded. */
  word(stop?: string): string {
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (stop !== undefined && c === stop) return out;
      if (c === "'") out += this.single();
      else if (c === '"') out += this.double();
      else if (c === '$') out += this.dollar();
      else if (c === this.escape) {
        this.i++;
        if (this.i < this.s.length) out += this.s[this.i++];
      } else {
        out += c;
        this.i++;
      }
    }
    if (stop !== undefined) throw new LexError(`missing "}" in "${this.s}"`);
    return out;
  }

  single(): string {
    const end = this.s.indexOf("'", this.i + 1);
    if (end < 0) throw new LexError(`unexpected end of statement: no closing single quote in "${this.s}"`);
    const t = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    return t;
  }

  double(): string {
    let out = '';
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '$') out += this.dollar();
      else if (c === this.escape && `"$\n${this.escape}`.includes(this.s[this.i + 1] ?? '-')) {
        out += this.s[this.i + 1];
        this.i += 2;
      } else {
        out += c;
        this.i++;
      }
    }
    throw new LexError(`unexpected end of statement while looking for matching double-quote in "${this.s}"`);
  }

  dollar(): string {
    this.i++;
    const rest = this.s.slice(this.i);
    if (rest[0] !== '{') {
      const m = NAME.exec(rest);
      if (!m) return '$';
      this.i += m[0].length;
      return this.get(m[0]) ?? '';
    }
    this.i++;
    const m = NAME.exec(this.s.slice(this.i));
    if (!m) throw new LexError(`bad substitution in "${this.s}": expected a variable name after "\${"`);
    const name = m[0];
    this.i += name.length;
    const op = /^(:-|:\+|:\?|-|\+|\?)?/.exec(this.s.slice(this.i))![0];
    this.i += op.length;
    if (this.i >= this.s.length) throw new LexError(`missing "}" in "${this.s}"`);
    if (!op && this.s[this.i] !== '}')
      throw new LexError(`unsupported modifier "${this.s[this.i] ?? ''}" in \${${name}…}: use :- :+ - + or :?`);
    const arg = op ? this.word('}') : '';
    this.i++; // the closing brace
    const v = this.get(name);
    switch (op) {
      case ':-':
        return v ? v : arg;
      case '-':
        return v ?? arg;
      case ':+':
        return v ? arg : '';
      case '+':
        return v !== undefined ? arg : '';
      case ':?':
      case '?':
        if (op === ':?' ? !v : v === undefined) throw new LexError(`${name}: ${arg || 'is not allowed to be unset'}`);
        return v ?? '';
      default:
        return v ?? '';
    }
  }

  get(name: string): string | undefined {
    this.used.add(name);
    return this.vars.get(name);
  }
}

/** One word with quotes removed and variables expanded (ENV, LABEL values, COPY paths, WORKDIR, …). */
export function expandWord(s: string, vars: Vars, escape = '\\'): string {
  return expandWordUsed(s, vars, escape).text;
}

export function expandWordUsed(s: string, vars: Vars, escape = '\\'): Out {
  const used = new Set<string>();
  return { text: new Lexer(s, vars, escape, used).word(), used };
}

/**
 * Splits text into words at unquoted, unescaped whitespace, keeping quotes and escapes in each word (the
 * raw words of `ENV a="b c" d=e` or `COPY a b c/`); expand each with expandWord.
 */
export function splitWords(s: string, escape = '\\'): string[] {
  const words: string[] = [];
  let cur = '';
  let quote = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === escape && quote === '"' && i + 1 < s.length) cur += c + s[++i];
      else {
        cur += c;
        if (c === quote) quote = '';
      }
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === escape && i + 1 < s.length) cur += c + s[++i];
    else {
      if (c === '"' || c === "'") quote = c;
      cur += c;
    }
  }
  if (quote) throw new LexError(`unexpected end of statement while looking for matching ${quote} in "${s}"`);
  if (inWord) words.push(cur);
  return words;
}

/** `KEY=VALUE …` pairs (ENV, LABEL, ARG with values); the legacy `ENV KEY VALUE` form gives one pair. */
export function keyValues(s: string, vars: Vars, what: string, escape = '\\'): [string, string][] {
  const words = splitWords(s, escape);
  if (words.length === 0) throw new LexError(`${what} needs at least one argument`);
  if (!words[0]!.includes('=')) {
    if (what === 'LABEL') throw new LexError(`LABEL needs KEY=VALUE pairs, got "${s}"`);
    if (words.length < 2) throw new LexError(`${what} names "${words[0]}" without a value: write ${words[0]}=VALUE`);
    const rest = s.trimStart().slice(words[0]!.length).trim();
    return [[expandWord(words[0]!, vars, escape), expandWord(rest, vars, escape)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new LexError(`${what} has "${w}" where KEY=VALUE was expected`);
    return [expandWord(w.slice(0, eq), vars, escape), expandWord(w.slice(eq + 1), vars, escape)];
  });
}
