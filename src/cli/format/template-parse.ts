/** The parser of the Go text/template subset (see template.ts): template text → a tree of nodes. */

/** A template that does not parse or fails on the data; the message names the position and the template. */
export class TemplateError extends Error {}

export type Pipe = { decl: string[]; assign?: boolean; cmds: Cmd[]; pos: number };
export type Cmd = { args: Arg[]; pos: number };
export type Arg =
  | { k: 'field'; base: 'dot' | string; chain: string[]; pos: number }
  | { k: 'ident'; name: string; pos: number }
  | { k: 'lit'; v: unknown; pos: number }
  | { k: 'pipe'; pipe: Pipe; chain: string[]; pos: number };
export type Block = { k: 'if' | 'with' | 'range'; pipe: Pipe; then: Node[]; else: Node[] };
export type Node = { k: 'text'; s: string } | { k: 'action'; pipe: Pipe } | Block;

const TOKEN =
  /\s+|(?<str>"(?:[^"\\\n]|\\.)*")|(?<raw>`[^`]*`)|(?<num>[+-]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?))|(?<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)|(?<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(?<ident>[A-Za-z_][A-Za-z0-9_]*)|(?<op>:=|[|(),=])/y;

class Parser {
  constructor(readonly src: string) {}

  fail(pos: number, msg: string): never {
    throw templateError(this.src, pos, msg);
  }

  /** Tokens of one action's body, with their offsets in the template. */
  tokens(body: string, at: number): { t: string; kind: string; pos: number }[] {
    const out: { t: string; kind: string; pos: number }[] = [];
    TOKEN.lastIndex = 0;
    while (TOKEN.lastIndex < body.length) {
      const start = TOKEN.lastIndex;
      const m = TOKEN.exec(body);
      if (!m) this.fail(at + start, `unexpected "${body[start]}" in action`);
      const kind = Object.entries(m.groups!).find(([, v]) => v !== undefined)?.[0];
      if (kind) out.push({ t: m[0], kind, pos: at + start });
    }
    return out;
  }

  parse(): Node[] {
    const root: Node[] = [];
    const stack: { node: Block | null; list: Node[]; pos: number }[] = [{ node: null, list: root, pos: 0 }];
    let i = 0;
    let trimNext = false;
    const s = this.src;
    while (i < s.length) {
      const open = s.indexOf('{{', i);
      let text = s.slice(i, open < 0 ? s.length : open);
      if (trimNext) text = text.replace(/^\s+/, '');
      trimNext = false;
      if (open < 0) {
        if (text) stack.at(-1)!.list.push({ k: 'text', s: unescape(text) });
        break;
      }
      let j = open + 2;
      if (/^-[ \t\r\n]/.test(s.slice(j, j + 2))) {
        text = text.replace(/\s+$/, '');
        j += 2;
      }
      if (text) stack.at(-1)!.list.push({ k: 'text', s: unescape(text) });
      const close = this.findClose(j, open);
      let end = close;
      if (/[ \t\r\n]-$/.test(s.slice(close - 2, close))) {
        end = close - 2;
        trimNext = true;
      }
      i = close + 2;
      const body = s.slice(j, end);
      if (/^\s*\/\*[\s\S]*\*\/\s*$/.test(body)) continue;
      const toks = this.tokens(body, j);
      if (toks.length === 0) this.fail(open, 'missing value for command');
      const kw = toks[0]!.kind === 'ident' ? toks[0]!.t : '';
      const top = stack.at(-1)!;
      if (kw === 'if' || kw === 'range' || kw === 'with') {
        const node = {
          k: kw,
          pipe: this.pipe(toks.slice(1), open, kw === 'range' ? 2 : 1),
          then: [],
          else: [],
        } as Block;
        top.list.push(node);
        stack.push({ node, list: node.then, pos: open });
      } else if (kw === 'else') {
        if (!top.node || top.list === top.node.else) this.fail(open, 'unexpected {{else}}');
        top.list = top.node.else;
        if (toks[1]?.t === 'if' || toks[1]?.t === 'with') {
          // `else if` / `else with`: a nested block that the same {{end}} closes.
          const node = { k: toks[1].t, pipe: this.pipe(toks.slice(2), open, 1), then: [], else: [] } as Block;
          top.list.push(node);
          stack.push({ node, list: node.then, pos: -1 });
        } else if (toks.length > 1) this.fail(toks[1]!.pos, 'unexpected token after else');
      } else if (kw === 'end') {
        if (!top.node) this.fail(open, 'unexpected {{end}}');
        while (stack.at(-1)!.pos === -1) stack.pop();
        stack.pop();
      } else if (['define', 'template', 'block', 'break', 'continue'].includes(kw)) {
        this.fail(open, `{{${kw}}} is not supported here`);
      } else top.list.push({ k: 'action', pipe: this.pipe(toks, open, 1) });
    }
    if (stack.length > 1)
      this.fail(stack.at(-1)!.pos === -1 ? s.length : stack.at(-1)!.pos, 'unexpected EOF: missing {{end}}');
    return root;
  }

  findClose(from: number, open: number): number {
    let quote = '';
    const comment = /^\s*\/\*/.exec(this.src.slice(from));
    if (comment) {
      const endComment = this.src.indexOf('*/', from + comment[0].length);
      if (endComment < 0) this.fail(open, 'unclosed comment');
      from = endComment + 2;
    }
    for (let k = from; k < this.src.length; k++) {
      const c = this.src[k]!;
      if (quote) {
        if (c === '\\' && quote === '"') k++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === '`') quote = c;
      else if (c === '}' && this.src[k + 1] === '}') return k;
    }
    return this.fail(open, 'unclosed action');
  }

  pipe(toks: { t: string; kind: string; pos: number }[], pos: number, maxVars: number): Pipe {
    const decl: string[] = [];
    const assign = toks.findIndex((t) => t.t === ':=' || t.t === '=');
    const isAssign = assign >= 0 && toks[assign]!.t === '=';
    if (
      assign >= 0 &&
      toks.slice(0, assign).every((t, n) => (n % 2 === 0 ? t.kind === 'var' && !t.t.includes('.') : t.t === ','))
    ) {
      for (let n = 0; n < assign; n += 2) decl.push(toks[n]!.t);
      if (decl.length > maxVars) this.fail(toks[0]!.pos, 'too many declarations');
      toks = toks.slice(assign + 1);
    }
    let k = 0;
    const parsePipe = (p: number): Pipe => {
      const cmds: Cmd[] = [];
      let args: Arg[] = [];
      let cpos = toks[k]?.pos ?? p;
      while (k < toks.length && toks[k]!.t !== ')') {
        const t = toks[k++]!;
        if (t.t === '|') {
          if (!args.length) this.fail(t.pos, 'missing command before |');
          cmds.push({ args, pos: cpos });
          args = [];
          cpos = toks[k]?.pos ?? t.pos;
        } else if (t.t === '(') {
          const inner = parsePipe(t.pos);
          if (toks[k]?.t !== ')') this.fail(t.pos, 'unclosed left paren');
          k++;
          const chain =
            toks[k]?.kind === 'field' && toks[k]!.pos === toks[k - 1]!.pos + 1 ? toks[k++]!.t.slice(1).split('.') : [];
          args.push({ k: 'pipe', pipe: inner, chain, pos: t.pos });
        } else args.push(this.operand(t));
      }
      if (args.length) cmds.push({ args, pos: cpos });
      if (!cmds.length) this.fail(p, 'missing value for command');
      return { decl: [], cmds, pos: p };
    };
    const pipe = parsePipe(toks[0]?.pos ?? pos);
    if (k < toks.length) this.fail(toks[k]!.pos, `unexpected "${toks[k]!.t}"`);
    return { ...pipe, decl, assign: isAssign };
  }

  operand(t: { t: string; kind: string; pos: number }): Arg {
    switch (t.kind) {
      case 'field':
        return { k: 'field', base: 'dot', chain: t.t === '.' ? [] : t.t.slice(1).split('.'), pos: t.pos };
      case 'var': {
        const [name, ...chain] = t.t.split('.');
        return { k: 'field', base: name!, chain, pos: t.pos };
      }
      case 'ident':
        if (t.t === 'true' || t.t === 'false') return { k: 'lit', v: t.t === 'true', pos: t.pos };
        if (t.t === 'nil') return { k: 'lit', v: null, pos: t.pos };
        return { k: 'ident', name: t.t, pos: t.pos };
      case 'str':
        return { k: 'lit', v: goString(t.t.slice(1, -1)), pos: t.pos };
      case 'raw':
        return { k: 'lit', v: t.t.slice(1, -1), pos: t.pos };
      case 'num':
        return { k: 'lit', v: Number(t.t), pos: t.pos };
      default:
        return this.fail(t.pos, `unexpected "${t.t}"`);
    }
  }
}

/** `\t` and `\n` typed in a format mean a tab and a newline (docker's replacement, applied to text only). */
function unescape(text: string): string {
  return text.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

function goString(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => {
    const simple: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      '\\': '\\',
      '"': '"',
      "'": "'",
      a: '\x07',
      b: '\b',
      f: '\f',
      v: '\v',
    };
    if (e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (e in simple) return simple[e]!;
    throw new Error(`unknown escape \\${e}`);
  });
}

/** An error at a position of a template: line, column and an excerpt. */
export function templateError(src: string, pos: number, msg: string): TemplateError {
  const before = src.slice(0, pos).split('\n');
  const excerpt = src.length > 80 ? `${src.slice(Math.max(0, pos - 30), pos + 40)}` : src;
  return new TemplateError(
    `template ${JSON.stringify(excerpt)}, line ${before.length} column ${before.at(-1)!.length + 1}: ${msg}`,
  );
}

const parsed = new Map<string, Node[]>();
/** Parses a template once (cached: a format is applied to many rows). */
export function parseTemplate(tmpl: string): Node[] {
  let nodes = parsed.get(tmpl);
  if (!nodes) {
    nodes = new Parser(tmpl).parse();
    if (parsed.size > 100) parsed.clear();
    parsed.set(tmpl, nodes);
  }
  return nodes;
}
